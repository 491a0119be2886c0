"""The team's MLflow tracking server: runs and registry in PostgreSQL, artifacts uploaded through
the server into its folder; train, promote, export and tune work against it (the Makefile's
`make mlflow-server`, docs/operators.md "The MLflow tracking server")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, free_port, wait_ready
from mlflow import MlflowClient
from procs import stop_tree


@pytest.fixture()
def tracking_server(postgres_server, pg_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`mlflow server` on a fresh PostgreSQL database and an artifact folder, as `make
    mlflow-server` starts it: (its URL, the artifact folder)."""
    artifacts, port = tmp_path / "server-artifacts", free_port()
    log = tmp_path / "mlflow-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--backend-store-uri",
                pg_url.replace("postgresql://", "postgresql+psycopg://"),
                "--artifacts-destination",
                str(artifacts),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # no job runner: a second server process (MLflow's GenAI jobs, which compass never
            # starts) competing for the 2 cores with the commands under test
            env=os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # a fresh database: MLflow creates its tables first (minutes on a loaded 2-core machine)
        wait_ready(url, proc, timeout=600, path="/health", log=log)
        yield url, artifacts
    finally:
        stop_tree(proc)


# `compass tune` reads config.yaml, whose rounds (3,000) and grids make even one trial a minute
# or more on 2 cores: run the CLI with a quick config instead (the bookkeeping is tested, not
# the search; the workers get the config from this process).
FAST_TUNE = textwrap.dedent(
    """
    import sys
    import training.tune
    from training.train import load_config

    def quick():
        cfg = load_config()
        blend = cfg.blend.model_copy(update={"half_life_grid": [None, 4.0], "c_grid": [0.1, 1.0]})
        lightgbm = cfg.lightgbm | {"num_threads": 1}
        fast = {"max_rounds": 60, "early_stopping_rounds": 10, "cv_folds": 3, "blend": blend}
        return cfg.model_copy(update=fast | {"lightgbm": lightgbm})

    training.tune.load_config = quick
    from compass.cli import app
    app(sys.argv[1:])
    """
)


@pytest.mark.timeout(1200)  # the server's set-up counts too; a minute or two on a quiet machine
@pytest.mark.slow
@pytest.mark.e2e
def test_train_promote_export_tune_against_the_tracking_server(
    tracking_server: tuple[str, Path], postgres_server, tmp_path: Path, quick_params: Path
) -> None:
    from features.simulator import simulate

    url, artifacts = tracking_server
    data = tmp_path / "launches.parquet"  # small: the bookkeeping is tested, not skill
    simulate(2500, 3).to_parquet(data, index=False)
    state = tmp_path / "state"
    env = dict(
        os.environ,
        HIT_COMPASS_STATE=str(state),
        MLFLOW_TRACKING_URI=url,
        BENTOML_HOME=str(tmp_path / "bentoml"),
    )

    def compass(*args: str, run: tuple[str, ...] = ("-m", "compass.cli")) -> str:
        done = subprocess.run(
            [sys.executable, *run, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"compass {args[0]}:\n{done.stderr[-3000:]}"
        return done.stdout

    def answer(*args: str, run: tuple[str, ...] = ("-m", "compass.cli")) -> dict:
        """The command's JSON: all of its stdout (MLflow's "View run" lines about the runs
        it ended, its own and the tuning workers', go to stderr)."""
        return json.loads(compass(*args, run=run))

    # registered without the gate, then promoted by hand: the gate reads the server's registry
    trained = answer("train", "--data", str(data), "--params", str(quick_params), "--no-gate")
    assert trained["version"] == "1" and not trained["promotion"]["promoted"]
    assert answer("promote", "1")["promoted"]
    tag = compass("export", "--reload-url", "").strip()
    assert tag.startswith("hit-compass:") and (tmp_path / "bentoml" / "models").is_dir()
    # two workers on a study in PostgreSQL, their trials nested under one run on the server
    optuna_db = postgres_server.database()
    tune = ["tune", "--data", str(data), "--trials", "1", "--workers", "2", "--no-report-test"]
    tuned = answer(*tune, "--storage", optuna_db, run=("-c", FAST_TUNE))
    assert tuned["trials_this_run"] == 2 and len(tuned["workers"]) == 2

    client = MlflowClient(url, url)
    version = client.get_model_version_by_alias("hit-compass", "champion")
    assert version.version == "1"
    runs = client.search_runs(
        [client.get_experiment_by_name("hit-compass").experiment_id], max_results=50
    )
    (tuning,) = [r for r in runs if r.data.tags.get("kind") == "tuning"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == tuning.info.run_id]
    assert len(trials) == 2 and all("cv_logloss" in r.data.metrics for r in trials)
    # the artifacts went through the server into its folder, none into the client's state
    assert any(artifacts.rglob("MLmodel")) and any(artifacts.rglob("best_params.json"))
    assert not (state / "artifacts").exists()
