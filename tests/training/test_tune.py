"""compass tune: a resumable Optuna study in SQLite, trials logged to MLflow, best params out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from compass.cli import app
from features.spec import load_spec
from training import DEFAULT_SPEC
from training import tune as tune_mod
from training.dataset import simulated_frame
from training.train import TrainingConfig, load_config

# small and fast: a few hundred trees at most, three time folds
FAST = {"max_rounds": 150, "early_stopping_rounds": 15, "cv_folds": 3}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return simulated_frame(1500, 5, load_spec(DEFAULT_SPEC))


def _config() -> TrainingConfig:
    cfg = load_config()
    # one thread: OpenMP spin-waits badly when the suite shares 2 cores with other processes
    lightgbm = cfg.lightgbm | {"num_threads": 1}
    return cfg.model_copy(
        update={**FAST, "lightgbm": lightgbm, "experiment": "hit-compass-tune-test"}
    )


def _run(
    frame: pd.DataFrame, db: Path, out: Path, n: int, resume: bool, report_test: bool = False
) -> tune_mod.TuneResult:
    return tune_mod.tune(
        frame,
        load_spec(DEFAULT_SPEC),
        n_trials=n,
        resume=resume,
        study_name="resume-test",
        storage=tune_mod.study_storage(db),
        params_path=out,
        config=_config(),
        report_test=report_test,
    )


def test_interrupted_study_resumes_and_trials_accumulate(
    frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, out = tmp_path / "optuna.db", tmp_path / "best_params.json"
    first = _run(frame, db, out, 2, resume=False)
    assert first.n_trials_total == 2
    payload = json.loads(out.read_text())
    assert set(payload) >= {"params", "value", "study"} and payload["spec"] == "simulated"
    assert payload["value"] == pytest.approx(first.best_value)

    # interrupt the next run inside its second trial (as Ctrl-C would)
    real_cv, calls = tune_mod.cross_validate_model, {"n": 0}

    def flaky_cv(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_cv(*args, **kwargs)

    monkeypatch.setattr(tune_mod, "cross_validate_model", flaky_cv)
    with pytest.raises(KeyboardInterrupt):
        _run(frame, db, out, 5, resume=True)
    monkeypatch.setattr(tune_mod, "cross_validate_model", real_cv)

    resumed = _run(frame, db, out, 2, resume=True)
    study = optuna.load_study(study_name="resume-test", storage=f"sqlite:///{db}")
    finished = [t for t in study.trials if t.state.is_finished()]
    # 2 first + 1 before the interrupt + 2 resumed, all in the same SQLite study
    assert len([t for t in finished if t.state != optuna.trial.TrialState.FAIL]) == 5
    assert resumed.n_trials_total == len(study.trials) >= 6
    assert json.loads(out.read_text())["value"] <= payload["value"]

    # without --resume the study starts over
    fresh = _run(frame, db, out, 1, resume=False)
    assert fresh.n_trials_total == 1


def test_trials_are_nested_mlflow_runs(frame: pd.DataFrame, tmp_path: Path) -> None:
    res = _run(frame, tmp_path / "optuna.db", tmp_path / "best.json", 2, False, report_test=True)
    lo, hi = res.test["auc_ci"]
    assert lo <= res.test["auc"] <= hi
    runs = mlflow.search_runs(experiment_names=["hit-compass-tune-test"], output_format="list")
    parents = [r for r in runs if r.data.tags.get("kind") == "tuning"]
    parent = max(parents, key=lambda r: r.info.start_time)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2
    assert {"best_cv_logloss", "test_auc", "test_auc_ci_low"} <= set(parent.data.metrics)
    assert all("learning_rate" in c.data.params for c in children)


def test_tune_needs_a_budget() -> None:
    result = CliRunner().invoke(app, ["tune"])
    assert result.exit_code != 0
    assert "budget" in result.output


def test_tuned_params_for_another_dataset_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"params": {"num_leaves": 7}, "spec": "video_games"}))
    assert tune_mod.load_tuned_params(path, load_spec(DEFAULT_SPEC)) is None
    path.write_text(json.dumps({"params": {"num_leaves": 7}, "spec": "simulated"}))
    assert tune_mod.load_tuned_params(path, load_spec(DEFAULT_SPEC)) == {
        "num_leaves": 7,
        "max_depth": -1,  # tuned before depth was searched: no depth limit, as when tuned
    }
