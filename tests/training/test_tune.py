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
from training.blend import logloss
from training.dataset import simulated_frame
from training.train import TrainingConfig, choose_blend_model, load_config, prepare, train_model

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
    frame: pd.DataFrame,
    db: Path,
    out: Path,
    n: int,
    resume: bool,
    report_test: bool = False,
    config: TrainingConfig | None = None,
) -> tune_mod.TuneResult:
    return tune_mod.tune(
        frame,
        load_spec(DEFAULT_SPEC),
        n_trials=n,
        resume=resume,
        study_name="resume-test",
        storage=tune_mod.study_storage(db),
        params_path=out,
        config=config or _config(),
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
    real_cv, calls = tune_mod.choose_blend_model, {"n": 0}

    def flaky_cv(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_cv(*args, **kwargs)

    monkeypatch.setattr(tune_mod, "choose_blend_model", flaky_cv)
    with pytest.raises(KeyboardInterrupt):
        _run(frame, db, out, 5, resume=True)
    monkeypatch.setattr(tune_mod, "choose_blend_model", real_cv)

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


def test_the_search_covers_the_linear_part_and_train_uses_it(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    spec, config = load_spec(DEFAULT_SPEC), _config()
    out = tmp_path / "best.json"
    res = _run(frame, tmp_path / "optuna.db", out, 3, resume=False)
    searched = {"blend.C", "blend.lgbm_half_life", "blend.linear_half_life"}
    assert all(searched <= set(t.params) for t in res.study.trials)
    payload = json.loads(out.read_text())
    blend = payload["blend"]
    assert set(blend) == {"C", "lgbm_half_life", "linear_half_life"} == set(res.best_blend)
    assert min(config.blend.c_grid) <= blend["C"] <= max(config.blend.c_grid)
    assert {blend["lgbm_half_life"], blend["linear_half_life"]} <= set(config.blend.half_life_grid)
    assert not any(k.startswith("blend.") or k in blend for k in payload["params"])
    # w is not searched: the trial's own, chosen on its folds, is on record
    assert 0.0 <= payload["w_cv"] <= 1.0 and "blend.w" not in res.study.best_trial.params

    loaded = tune_mod.load_tuned(out, spec, config)
    assert loaded is not None
    params, tuned = loaded
    assert params["learning_rate"] == payload["params"]["learning_rate"]
    assert tuned.blend.c_grid == [blend["C"]]
    assert tuned.blend.lgbm_half_lives == (blend["lgbm_half_life"],)
    assert tuned.blend.linear_half_lives == (blend["linear_half_life"],)
    # the trial's objective is the blend's pooled out-of-fold log loss with those choices
    choice = choose_blend_model(prepare(frame, spec), config.lightgbm | params, tuned)
    y, m = prepare(frame, spec).y, choice.mask
    assert res.best_value == pytest.approx(logloss(y[m], choice.oof_logit[m]), abs=1e-9)
    recipe = train_model(frame, spec, params, tuned).calibration["blend"]
    assert recipe["linear"] == {"C": blend["C"], "half_life": blend["linear_half_life"]}
    assert recipe["lgbm_half_life"] == blend["lgbm_half_life"]


def test_untuned_blend_and_other_datasets_leave_the_config_alone(tmp_path: Path) -> None:
    spec, config = load_spec(DEFAULT_SPEC), load_config()
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"params": {"num_leaves": 7}, "spec": "simulated"}))
    loaded = tune_mod.load_tuned(path, spec, config)
    assert loaded is not None and loaded[1] == config  # a LightGBM-only study: folds choose
    blend = {"C": 0.2, "lgbm_half_life": None, "linear_half_life": 4.0}
    path.write_text(json.dumps({"params": {}, "blend": blend, "spec": "video_games"}))
    assert tune_mod.load_tuned(path, spec, config) is None


def test_with_the_blend_off_the_search_is_lightgbm_alone(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = _config()
    off = config.model_copy(update={"blend": config.blend.model_copy(update={"enabled": False})})
    out = tmp_path / "best.json"
    res = _run(frame, tmp_path / "optuna.db", out, 1, resume=False, config=off)
    assert not any(k.startswith("blend.") for k in res.study.best_trial.params)
    assert json.loads(out.read_text())["blend"] is None and res.best_blend == {}


# ---- parallel workers on a database server ----------------------------------------------------
def test_two_workers_share_one_postgresql_study(
    frame: pd.DataFrame, pg_url: str, tmp_path: Path
) -> None:
    """Two worker processes on one study in PostgreSQL: every trial recorded once (distinct
    numbers, as many as both budgets), each worker ran its own budget, and both read the same
    best trial at the end."""
    storage = tune_mod.study_storage(pg_url)
    config = _config()  # LightGBM alone: the quicker objective; the study's bookkeeping is tested
    config = config.model_copy(update={"blend": config.blend.model_copy(update={"enabled": False})})
    said: list[str] = []  # the command's console
    res = tune_mod.tune(
        frame,
        load_spec(DEFAULT_SPEC),
        n_trials=2,
        study_name="parallel-test",
        storage=storage,
        params_path=tmp_path / "best.json",
        config=config,
        log_to_mlflow=False,
        workers=2,
        say=said.append,
    )
    study = optuna.load_study(study_name="parallel-test", storage=tune_mod.study_storage(pg_url))
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == [0, 1, 2, 3] and res.n_trials_this_run == 4
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    a, b = res.workers
    assert (a.trials, b.trials) == (2, 2) and a.pid != b.pid
    assert a.best_trial == b.best_trial == study.best_trial.number
    assert a.best_params == b.best_params == study.best_params
    # each worker's trials reach the command's console, through the parent
    trials = sorted(line.split(":")[0].strip() for line in said if line.startswith("  worker "))
    assert trials == ["worker 0", "worker 0", "worker 1", "worker 1"], said
    # the two workers' samplers differ: no proposal evaluated twice
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 4


def test_parallel_workers_on_sqlite_are_refused(small_launches: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["tune", "--data", str(small_launches), "--trials", "1", "--workers", "2"]
    )
    assert result.exit_code == 1
    assert "--workers 2 needs --storage" in result.output and "SQLite" in result.output
    bad = CliRunner().invoke(
        app, ["tune", "--data", str(small_launches), "--trials", "1", "--storage", "mysql://x"]
    )
    assert bad.exit_code == 1 and "--storage must be postgresql://" in bad.output


def test_two_specs_tuned_one_after_the_other_each_train_with_their_own(
    frame: pd.DataFrame, small_launches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each spec keeps its own tuned params (a file named for it); tuning a second spec loses
    nothing of the first's, and `compass train` applies each spec's own and says which."""
    import yaml

    from training import pipeline

    monkeypatch.setattr(tune_mod, "state_dir", lambda: tmp_path)  # files and study in tmp
    spec_a = load_spec(DEFAULT_SPEC)
    spec_b = spec_a.model_copy(update={"name": "simulated_b"})
    path_b = tmp_path / "simulated_b.yaml"
    path_b.write_text(yaml.safe_dump(spec_b.model_dump(mode="json", exclude_none=True)))
    config = _config()
    config = config.model_copy(update={"blend": config.blend.model_copy(update={"enabled": False})})
    a = tune_mod.tune(frame, spec_a, n_trials=1, config=config, log_to_mlflow=False)
    first = a.params_path.read_text()
    b = tune_mod.tune(frame.iloc[:1200], spec_b, n_trials=1, config=config, log_to_mlflow=False)
    assert a.params_path == tmp_path / "best_params-simulated.json"
    assert b.params_path == tmp_path / "best_params-simulated_b.json"
    assert a.params_path.read_text() == first  # the first spec's tuning is still there
    assert b.best_value != a.best_value  # tuned on its own launches

    class Trained(Exception):
        pass

    seen: dict = {}

    def train_model(frame, spec, params, config, stages):  # stops where training would start
        seen[spec.name] = (params, config)
        raise Trained

    monkeypatch.setattr(pipeline, "train_model", train_model)
    for spec_path in (DEFAULT_SPEC, path_b):
        with pytest.raises(Trained):
            pipeline.run_training(small_launches, spec_path)
    for name, result in (("simulated", a), ("simulated_b", b)):
        params, _ = seen[name]
        assert params == {"max_depth": -1, **result.best_params} or params["max_depth"] >= 2
        assert {k: params[k] for k in result.best_params} == result.best_params
    found = tune_mod.find_tuned(spec_b, config)
    assert found is not None and found.summary() == {
        "file": str(b.params_path),
        "study": "simulated_b-lightgbm",
        "trial": 0,
        "n_trials": 1,
        "cv_logloss": b.best_value,
    }
