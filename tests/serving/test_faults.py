"""Faults: a bad model never gets served, a killed training leaves nothing half-registered, and
the tracking database is not needed by a running service. Plus: no pickle on the load path."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import bentoml
import httpx
import pytest
from procs import kill_tree

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_with_copy(champion: dict, home: Path) -> Path:
    """A fresh BentoML home holding a copy of the champion; returns the copy's directory."""
    src = Path(bentoml.models.get(champion["bento_tag"]).path)
    dest = home / "models" / "hit-compass" / src.name
    shutil.copytree(src, dest)
    (dest.parent / "latest").write_text(src.name)
    return dest


def serve_and_expect_refusal(home: Path, timeout_s: float = 120) -> str:
    """Run `bentoml serve` against ``home``; it must exit non-zero without ever answering."""
    port = free_port()
    env = dict(os.environ, BENTOML_HOME=str(home))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "serving.service:HitCompass",
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        out, _ = proc.communicate()
        pytest.fail(f"bentoml serve kept running on a bad model:\n{out.decode()[-3000:]}")
    assert proc.returncode != 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
    return out.decode(errors="replace")


@pytest.mark.e2e
def test_corrupt_model_refuses_to_start(champion: dict, tmp_path: Path) -> None:
    model_dir = store_with_copy(champion, tmp_path / "bentoml")
    (model_dir / "booster.txt").write_text("tree\nthis is not a LightGBM model\n")
    out = serve_and_expect_refusal(tmp_path / "bentoml")
    assert "refusing to start" in out and "corrupt" in out, out[-3000:]


@pytest.mark.e2e
def test_missing_model_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "bentoml" / "models").mkdir(parents=True)
    out = serve_and_expect_refusal(tmp_path / "bentoml")
    assert "refusing to start" in out and "not in the BentoML store" in out, out[-3000:]


@pytest.mark.parametrize("broken", ["features.json", "model.json", "booster.txt"])
def test_preflight_names_the_missing_file(champion: dict, tmp_path: Path, broken: str) -> None:
    from models.hit_model import ModelLoadError
    from serving.reload import preflight

    model_dir = store_with_copy(champion, tmp_path)
    (model_dir / broken).unlink()

    class Ref:
        tag = "hit-compass:copy"
        stored = type("Stored", (), {"path": str(model_dir)})()

    with pytest.raises(ModelLoadError, match=f"refusing to start.*{broken}.*missing"):
        preflight(Ref())


# ---- kill -9 during training --------------------------------------------------------------------
KILL_AT_COMPLETE_TAG = textwrap.dedent(
    """
    import os, signal, sys
    from mlflow import MlflowClient
    from training import registry

    original = MlflowClient.set_model_version_tag

    def tag_then_maybe_die(self, name, version, key, value):
        if key == registry.COMPLETE_TAG:
            # the worst moment: the version is registered, not yet marked complete
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, name, version, key, value)

    MlflowClient.set_model_version_tag = tag_then_maybe_die
    from compass.cli import app
    app(sys.argv[1:], standalone_mode=True)
    """
)


def train_cmd(data: Path, params: Path) -> list[str]:
    return ["train", "--data", str(data), "--params", str(params)]


@pytest.mark.e2e
@pytest.mark.slow
def test_kill9_during_train_leaves_no_usable_half_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_params: Path
) -> None:
    from features.simulator import simulate

    small_launches = tmp_path / "launches.parquet"  # small: bookkeeping is tested, not skill
    simulate(2500, 3).to_parquet(small_launches, index=False)
    state = tmp_path / "state"
    env = dict(
        os.environ,
        HIT_COMPASS_STATE=str(state),
        MLFLOW_TRACKING_URI=f"sqlite:///{state / 'mlflow.db'}",
        BENTOML_HOME=str(tmp_path / "bentoml"),
    )
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_COMPLETE_TAG, *train_cmd(small_launches, quick_params)],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    for key in ("HIT_COMPASS_STATE", "MLFLOW_TRACKING_URI", "BENTOML_HOME"):
        monkeypatch.setenv(key, env[key])
    from training import registry
    from training.registry import export_version as export_to_bentoml

    assert registry.configure().get_model_version(registry.MODEL_NAME, "1")  # it was registered
    assert not registry.is_complete("1")
    assert registry.champion_version() is None
    with pytest.raises(RuntimeError, match="incomplete"):
        registry.load_version("1")
    with pytest.raises(Exception, match="no champion"):
        export_to_bentoml()
    with pytest.raises(RuntimeError, match="incomplete"):
        export_to_bentoml("1")

    rerun = subprocess.run(
        [sys.executable, "-m", "compass.cli", *train_cmd(small_launches, quick_params)],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert registry.is_complete("2")
    assert registry.champion_version() == "2"


# ---- the tracking database is not needed to serve ------------------------------------------------
def test_service_runs_without_tracking_db(
    champion: dict, concept: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fresh_app import fresh_service

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{gone / 'mlflow.db'}")
    with fresh_service() as client:
        shutil.rmtree(gone)  # the tracking store disappears while the service runs
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # and is unreachable
        for _ in range(3):
            assert client.post("/score", json={"concepts": [concept]}).status_code == 200
        assert client.post("/target", json={"concept": concept}).status_code == 200
        assert client.post("/admin/reload", json={}).status_code == 200


def test_service_does_not_import_mlflow_or_unpickle(champion: dict) -> None:
    """Import the service and score with every unpickling entry point booby-trapped."""
    code = textwrap.dedent(
        """
        import pickle, sys

        def trap(*a, **k):
            raise AssertionError("pickle used on the load path")

        pickle.load = pickle.loads = trap
        pickle.Unpickler = trap
        import cloudpickle
        cloudpickle.load = cloudpickle.loads = trap

        from serving.reload import load_from_store
        from scoring.scorer import Scorer
        import serving.service  # runs the preflight load of the model too

        model, version, tag = load_from_store()
        out = Scorer(model, version).score([dict(serving.service.SCHEMA.example)])
        assert 0 < out[0]["hit_probability"] < 1
        print("MLFLOW_IMPORTED", "mlflow" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MLFLOW_IMPORTED False" in done.stdout


def test_model_dir_holds_no_pickles(champion: dict) -> None:
    path = Path(bentoml.models.get(champion["bento_tag"]).path)
    suffixes = {p.suffix for p in path.rglob("*") if p.is_file()}
    assert suffixes <= {".txt", ".json", ".yaml"}, suffixes
