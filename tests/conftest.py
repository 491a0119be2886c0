"""Shared fixtures. All state (MLflow DB, artifacts, BentoML store) lives in one session tmp dir,
set before any library reads its environment."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_STATE = Path(tempfile.mkdtemp(prefix="hit-compass-tests-"))
os.environ["HIT_COMPASS_STATE"] = str(_STATE)
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_STATE / 'mlflow.db'}"
os.environ["BENTOML_HOME"] = str(_STATE / "bentoml")
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
os.environ["TQDM_DISABLE"] = "1"

import httpx  # noqa: E402
import postgres  # noqa: E402
import pytest  # noqa: E402
from procs import kill_tree, stop_tree  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VIDEO_GAMES_SPEC = REPO / "training" / "specs" / "video_games.yaml"
PRODUCT_HUNT_SPEC = REPO / "training" / "specs" / "product_hunt.yaml"


def _shared_spec(spec_path: Path) -> Path:
    """A real-data spec, when its CSV (shared/, beside the clone, or HIT_COMPASS_SHARED_DATA)
    is there: a skip on a bare clone, a failure in CI, where shared/ is always laid."""
    from features.spec import load_spec

    csv = load_spec(spec_path).source_path(spec_path.parent)
    if csv is None or not csv.exists():
        reason = f"{spec_path.stem} CSV not found at {csv} (set HIT_COMPASS_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return spec_path


@pytest.fixture(scope="session")
def video_games_spec() -> Path:
    return _shared_spec(VIDEO_GAMES_SPEC)


@pytest.fixture(scope="session")
def product_hunt_spec() -> Path:
    return _shared_spec(PRODUCT_HUNT_SPEC)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """One real PostgreSQL server for the session (tests/postgres.py): a skip where Debian's
    postgresql package is missing, a failure in CI, where `make test` installs it."""
    bindir = postgres.binaries()
    if bindir is None:
        reason = "PostgreSQL not installed (`make postgresql` installs Debian's package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres.running(bindir) as server:
        yield server


@pytest.fixture()
def pg_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """A fresh database of its own for one test: its postgresql:// URL."""
    url = postgres_server.database()
    yield url
    postgres_server.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def log_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's prediction log lives, once per backend: a SQLite file, then a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "predictions.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def state_dir() -> Path:
    return _STATE


@pytest.fixture(scope="session")
def small_launches(state_dir: Path) -> Path:
    """A small simulated launch history on disk (Parquet)."""
    from features.simulator import simulate

    path = state_dir / "launches_small.parquet"
    simulate(6000, 11).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def fast_config():
    """config.yaml with few, fast rounds: tests check bookkeeping and shape, not skill."""
    from training.train import load_config

    cfg = load_config()
    # one thread: OpenMP spin-waits badly when the suite shares 2 cores with other processes
    lightgbm = cfg.lightgbm | {"learning_rate": 0.1, "num_threads": 1}
    # the blend's grids cut to two values each: the selection is exercised, not its skill
    blend = cfg.blend.model_copy(update={"half_life_grid": [None, 4.0], "c_grid": [0.1, 1.0]})
    fast = {
        "max_rounds": 120,
        "early_stopping_rounds": 10,
        "cv_folds": 3,
        "lightgbm": lightgbm,
        "blend": blend,
    }
    return cfg.model_copy(update=fast)


@pytest.fixture(scope="session")
def small_result(fast_config):
    """A small model trained in process on 2,000 simulated launches (no MLflow)."""
    from features.spec import load_spec
    from training import DEFAULT_SPEC
    from training.dataset import simulated_frame
    from training.train import train_model

    spec = load_spec(DEFAULT_SPEC)
    return train_model(simulated_frame(2000, 3, spec), spec, config=fast_config)


@pytest.fixture(scope="session")
def blended_result(fast_config):
    """A blended model for sure (w fixed at 0.5, LightGBM and the linear part both count),
    trained in process on 2,000 simulated launches."""
    from features.spec import load_spec
    from training import DEFAULT_SPEC
    from training.dataset import simulated_frame
    from training.train import train_model

    spec = load_spec(DEFAULT_SPEC)
    blend = fast_config.blend.model_copy(update={"w_values": [0.5]})
    config = fast_config.model_copy(update={"blend": blend})
    return train_model(simulated_frame(2000, 5, spec), spec, config=config)


@pytest.fixture(scope="session")
def blended_scorer(blended_result):
    from scoring.scorer import Scorer

    return Scorer(blended_result.model, "blended")


@pytest.fixture()
def quick_params(tmp_path: Path) -> Path:
    """A `compass train --params` file of quick LightGBM params and fixed blend choices (no grid
    search over the linear part), the loop benchmark's small scale's: for the tests of
    bookkeeping, not skill."""
    from benchmarks.loop import QUICK_PARAMS

    path = tmp_path / "quick.json"
    path.write_text(json.dumps(QUICK_PARAMS))
    return path


@pytest.fixture(scope="session")
def champion(small_launches: Path) -> dict:
    """Train once per session: a registered version with alias champion, exported to BentoML."""
    from training import DEFAULT_SPEC
    from training.pipeline import run_training
    from training.registry import export_version

    result = run_training(data=small_launches, spec_path=DEFAULT_SPEC)
    result["bento_tag"] = export_version()
    return result


@pytest.fixture(scope="session")
def video_games_champion(video_games_spec: Path) -> dict:
    """A video games champion (its own registered model), exported to the BentoML store."""
    from training.pipeline import run_training
    from training.registry import export_version

    result = run_training(data=None, spec_path=video_games_spec)
    result["bento_tag"] = export_version(model_name=result["model_name"])
    return result


@pytest.fixture(scope="session")
def video_games_url(video_games_champion: dict) -> Iterator[str]:
    """A real `bentoml serve` of the video games champion, ready."""
    with serving({"HIT_COMPASS_MODEL": video_games_champion["bento_tag"]}) as (url, _):
        yield url


@pytest.fixture(scope="session")
def client(champion: dict):
    from starlette.testclient import TestClient

    from serving.service import HitCompass

    with TestClient(HitCompass.to_asgi()) as c:
        yield c


@pytest.fixture()
def concept() -> dict:
    """The simulated default spec's example concept (a fresh copy)."""
    from features.spec import load_spec
    from training import DEFAULT_SPEC

    return dict(load_spec(DEFAULT_SPEC).example or {})


@pytest.fixture(scope="session")
def scorer(champion: dict):
    """The champion's scorer, in process (the same model the service loads)."""
    from scoring.scorer import Scorer

    return Scorer(champion["train_result"].model, champion["version"])


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every test that needs one: starting Spark costs seconds."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("hit-compass-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def test_concepts(champion: dict) -> list[dict]:
    """Out-of-time test launches as API concept dicts (dates as ISO strings)."""
    fields = champion["train_result"].model.concept_schema.names
    frame = champion["train_result"].test.head(300).copy()
    frame["launch_date"] = frame["launch_day"].dt.strftime("%Y-%m-%d")
    return [{k: _plain(r[k]) for k in fields} for r in frame.to_dict("records")]


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(
    url: str,
    proc: subprocess.Popen | None = None,
    timeout: float = 120,
    path: str = "/readyz",
    log: Path | None = None,
) -> None:
    """Until ``url + path`` answers 200; a server that exits first fails with its log (``log``,
    default: the log of a server :func:`start_bentoml` started)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            text = log.read_text(errors="replace") if log is not None else server_log(proc)
            raise (PortTaken if "Address already in use" in text else RuntimeError)(text[-3000:])
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


class PortTaken(RuntimeError):
    """The server's free port was taken before it could bind it (other servers starting)."""


def start_bentoml(port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real `bentoml serve` in its own process group (so the test can kill all of it);
    ``env`` adds to the environment (e.g. HIT_COMPASS_MODEL: the store tag to serve). Its
    output goes to a file: a pipe nobody reads fills up after a few hundred access-log lines
    and the server then blocks writing its log (measured: fuzzing hung on it)."""
    bentoml = Path(sys.executable).with_name("bentoml")
    log = _STATE / f"bentoml-{port}.log"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(bentoml), "serve", "serving.service:HitCompass", "--port", str(port)],
            cwd=REPO,
            env=os.environ | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def server_log(proc: subprocess.Popen) -> str:
    """What a server started by :func:`start_bentoml` wrote so far."""
    port = proc.args[-1]  # type: ignore[index]
    return (_STATE / f"bentoml-{port}.log").read_text(errors="replace")


@contextlib.contextmanager
def serving(
    env: dict[str, str] | None = None,
    stop: Callable[[subprocess.Popen], None] = stop_tree,
    ready_timeout: float = 120,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `bentoml serve` on a free port, ready: (url, process); stopped (whole group) on
    leaving (``stop``: how; ``ready_timeout``: seconds it may take to start)."""
    for attempt in range(3):  # a port free when chosen may be taken before the server binds it
        port = free_port()
        url, proc = f"http://127.0.0.1:{port}", start_bentoml(port, env)
        try:
            wait_ready(url, proc, ready_timeout)
            break
        except PortTaken:
            stop(proc)
            if attempt == 2:
                raise
        except BaseException:
            stop(proc)
            raise
    try:
        yield url, proc
    finally:
        stop(proc)


def kill_server(proc: subprocess.Popen) -> None:
    kill_tree(proc)
    proc.wait(timeout=30)


@pytest.fixture()
def real_server(champion: dict) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `bentoml serve` on a free port, ready; killed (whole group) at teardown."""
    with serving(stop=kill_server) as served:
        yield served


@pytest.fixture(scope="session")
def live_url(champion: dict) -> Iterator[str]:
    """A real `bentoml serve` for the browser test (a second in-process ASGI app would
    register BentoML's Prometheus metrics twice)."""
    with serving() as (url, _):
        yield url
