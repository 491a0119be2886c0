"""``compass tune``: Optuna (TPE) over the model's candidates, selected on out-of-time
cross-validation: LightGBM's params and, with ``config.yaml``'s blend on, the linear part's C and
each learner's recency half-life (the blend weight w is not searched: it follows from the folds,
as in training).

* Objective, on the expanding-window time folds of the training period (the test period is never
  looked at while selecting): with the blend, the pooled out-of-fold log loss of the blend at
  its fold-chosen w (``training.blend.choose_blend``, honest out-of-fold LightGBM); without it,
  LightGBM's mean fold log loss (``training.train.cross_validate``).
* Early stopping picks the number of trees in every fold; ``LightGBMPruningCallback`` watches the
  latest (largest) fold, which runs first, so hopeless trials stop early.
* The study lives in SQLite in the state folder (``optuna.db``), or in any database Optuna's
  RDB storage takes (``postgresql://...``); ``resume=True`` continues it, trials left RUNNING by
  a killed process are failed by the heartbeat and not counted.
* Parallel workers (``workers=N``: N processes, each an Optuna worker on the study with its own
  budget) need a database server: Optuna's documentation advises against SQLite for parallel
  optimisation (its writers lock the whole file), so they are refused there. A process on
  another machine joins the same study with ``resume=True`` and the same storage and name.
* Every trial is a nested MLflow run under one parent run per invocation (Optuna 5 deprecates
  ``MLflowCallback``, so trials are logged here).
* The best params go to ``state/best_params-<spec name>.json`` (``{"params", "blend", "value",
  "study", "spec"}``), one file per launch history, so tuning one never loses another's;
  ``compass train --spec`` picks up its spec's (:func:`find_tuned`) and says which it applied.
  A ``state/best_params.json`` of older versions still counts for the spec it names.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
import sqlalchemy
from optuna_integration import LightGBMPruningCallback

from core.locks import setting_up
from core.settings import state_dir
from features.spec import DatasetSpec
from scoring.prediction_log import shown
from training import registry
from training.baselines import model_summary
from training.blend import logloss
from training.train import (
    Blend,
    CVResult,
    Prepared,
    TrainingConfig,
    choose_blend_model,
    cross_validate_model,
    load_config,
    prepare,
    train_model,
)

# the blend's search dimensions, named apart from LightGBM's params in a trial
BLEND_PREFIX = "blend."
# local workers' sampler seeds lie this far apart, so no two propose the same first trials
WORKER_SEED_STRIDE = 1000


class TuneError(ValueError):
    """A tuning request that cannot run as given; the message names the option."""


LEGACY_PARAMS = "best_params.json"  # one file for every spec, before each spec had its own


def tuned_params_path(spec_name: str) -> Path:
    """Where the best params of a spec's latest study go, and where `compass train` finds
    them: a file named for the spec in the state folder."""
    safe = re.sub(r"[^\w.-]", "_", spec_name)
    return state_dir() / f"best_params-{safe}.json"


@dataclass(frozen=True)
class Tuned:
    """Tuned choices found for a spec: LightGBM's params, the config with the tuned blend
    choices, the file, and what the study said (for `compass train` to report)."""

    params: dict[str, Any]
    config: TrainingConfig
    path: Path
    payload: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "study": self.payload.get("study"),
            "trial": self.payload.get("trial"),
            "n_trials": self.payload.get("n_trials"),
            "cv_logloss": self.payload.get("value"),
        }


def find_tuned(spec: DatasetSpec, config: TrainingConfig) -> Tuned | None:
    """The tuned choices of ``spec`` (its own file, else an older shared file tuned on it),
    or None when it was never tuned."""
    for path in (tuned_params_path(spec.name), state_dir() / LEGACY_PARAMS):
        if path.exists() and (found := load_tuned(path, spec, config)) is not None:
            params, tuned = found
            return Tuned(params, tuned, path, json.loads(path.read_text()))
    return None


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """The search space. Fixed while searching: the objective, determinism and threads come from
    config.yaml. Depth matters for serving too: every request's TreeSHAP drivers cost grows
    with its square."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
        "min_data_per_group": trial.suggest_int("min_data_per_group", 5, 200, log=True),
    }


def suggest_blend(trial: optuna.Trial, blend: Blend) -> dict[str, Any]:
    """The blend's part of the search: the linear part's C on a log scale over config.yaml's
    ``c_grid`` range, each learner's half-life from its ``half_life_grid``."""
    lo, hi = min(blend.c_grid), max(blend.c_grid)
    grid = list(blend.half_life_grid)
    return {
        "C": trial.suggest_float(f"{BLEND_PREFIX}C", lo, hi, log=True) if lo < hi else lo,
        "lgbm_half_life": trial.suggest_categorical(f"{BLEND_PREFIX}lgbm_half_life", grid),
        "linear_half_life": trial.suggest_categorical(f"{BLEND_PREFIX}linear_half_life", grid),
    }


def tuned_config(config: TrainingConfig, blend: dict[str, Any] | None) -> TrainingConfig:
    """``config`` with the blend's tuned C and half-lives as one-value grids (w still comes from
    the folds); unchanged without tuned blend choices."""
    if not blend:
        return config
    fixed = config.blend.model_copy(
        update={
            "c_grid": [blend["C"]],
            "lgbm_half_life_grid": [blend["lgbm_half_life"]],
            "linear_half_life_grid": [blend["linear_half_life"]],
        }
    )
    return config.model_copy(update={"blend": fixed})


def study_storage(where: str | Path | None = None) -> optuna.storages.RDBStorage:
    """The study's storage: a SQLite file (default ``state/optuna.db``) or a database URL
    (``postgresql://user:password@host/db``, opened with the psycopg driver). The heartbeat marks
    trials of a killed process as failed when the study is resumed."""
    path: Path | None = None
    if where is None or isinstance(where, Path):
        path = where or state_dir() / "optuna.db"
        url = f"sqlite:///{path}"
    elif where.startswith(("postgresql://", "sqlite:///")):
        # SQLAlchemy's plain postgresql:// means psycopg2, which is not installed
        url = where.replace("postgresql://", "postgresql+psycopg://", 1)
        if where.startswith("sqlite:///"):
            path = Path(where.removeprefix("sqlite:///"))
    else:
        scheme = where.split("://")[0]
        raise TuneError(f"--storage must be postgresql://... (or sqlite:///FILE), not {scheme!r}")
    # creating a SQLite storage migrates a new database: one command at a time (a server
    # database takes concurrent first connections itself)
    first_setup = setting_up(path, "the Optuna study storage") if path else contextlib.nullcontext()
    with first_setup, warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=30)
        except sqlalchemy.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise TuneError(f"--storage: cannot open {shown(str(where))}: {reason}") from None


def open_study(
    name: str, storage: optuna.storages.BaseStorage, resume: bool, seed: int = 7, worker: int = 0
) -> optuna.Study:
    """Create a fresh study (replacing one of the same name) or, with ``resume``, continue it.

    The sampler is seeded with the number of finished trials (and the local ``worker``'s
    number), so a resumed study does not replay the proposals it already evaluated and parallel
    workers do not duplicate each other's. ``constant_liar``: a worker's sampler counts the
    trials other workers are running as bad, rather than proposing the same region again (no
    effect with one worker)."""
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    if name in existing and not resume:
        optuna.delete_study(study_name=name, storage=storage)
    n_done = 0
    if name in existing and resume:
        n_done = len(optuna.load_study(study_name=name, storage=storage).trials)
    return optuna.create_study(
        study_name=name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(
            seed=seed + n_done + WORKER_SEED_STRIDE * worker,
            n_startup_trials=8,
            constant_liar=True,
        ),
        pruner=optuna.pruners.PercentilePruner(75.0, n_startup_trials=5, n_warmup_steps=150),
        load_if_exists=True,
    )


def make_objective(
    prep: Prepared, config: TrainingConfig, log_trial: Callable[..., None]
) -> Callable[[optuna.Trial], float]:
    """Trial -> out-of-time CV log loss of the suggested candidates (see the module doc)."""

    def objective(trial: optuna.Trial) -> float:
        params = {**config.lightgbm, **suggest_params(trial)}
        blend = suggest_blend(trial, config.blend) if config.blend.enabled else {}
        logged = params | {f"{BLEND_PREFIX}{k}": v for k, v in blend.items()}
        pruning = LightGBMPruningCallback(trial, "binary_logloss")
        try:
            value, attrs = _cross_validate(prep, params, tuned_config(config, blend), [pruning])
        except optuna.TrialPruned:
            log_trial(trial, logged, None)
            raise
        for key, v in attrs.items():
            trial.set_user_attr(key, v)
        log_trial(trial, logged, value, attrs["n_rounds"])
        return value

    return objective


def _cross_validate(
    prep: Prepared, params: dict[str, Any], config: TrainingConfig, callbacks: list[Any]
) -> tuple[float, dict[str, Any]]:
    """(objective value, what the trial records) of one candidate."""
    if not config.blend.enabled:
        cv = cross_validate_model(prep, params, config, latest_fold_callbacks=callbacks)
        value = float(np.mean(cv.fold_logloss))
        return value, {"n_rounds": cv.n_rounds, "fold_logloss": cv.fold_logloss}
    choice = choose_blend_model(prep, params, config, latest_fold_callbacks=callbacks)
    honest, m = choice.lgbm, choice.mask
    n_rounds = CVResult(honest.oof_logit, honest.best_iterations, honest.fold_logloss).n_rounds
    attrs = {"n_rounds": n_rounds, "w": choice.w, "oof_logloss": choice.report["oof_logloss"]}
    return logloss(prep.y[m], choice.oof_logit[m]), attrs


def _mlflow_trial_logger(parent_run_id: str | None) -> Callable[..., None]:
    """Each trial as a nested run of the invocation's run (None: not logged); worker processes
    nest theirs under the same run by its id."""

    def log(
        trial: optuna.Trial, params: dict[str, Any], value: float | None, n_rounds: int = 0
    ) -> None:
        if parent_run_id is None:
            return
        with mlflow.start_run(
            run_name=f"trial-{trial.number}", nested=True, parent_run_id=parent_run_id
        ):
            mlflow.log_params({k: v for k, v in params.items() if not isinstance(v, list)})
            mlflow.set_tags({"optuna_trial": trial.number, "pruned": value is None})
            if value is not None:
                mlflow.log_metrics({"cv_logloss": value, "n_rounds": n_rounds})

    return log


@dataclass(frozen=True)
class WorkerReport:
    """What one worker process did and, once every worker was done, the best trial it read."""

    worker: int
    pid: int
    trials: int  # trials this worker ran
    best_trial: int
    best_params: dict[str, Any]


@dataclass
class TuneResult:
    study: optuna.Study
    best_params: dict[str, Any]  # LightGBM's
    best_blend: dict[str, Any]  # the linear part's C and the half-lives ({} with the blend off)
    best_value: float
    n_trials_total: int
    n_trials_this_run: int
    params_path: Path
    test: dict[str, Any] = field(default_factory=dict)  # with report_test: metrics + auc_ci
    workers: list[WorkerReport] = field(default_factory=list)  # with workers > 1


def tune(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    n_trials: int | None = None,
    timeout: float | None = None,
    resume: bool = False,
    study_name: str | None = None,
    storage: optuna.storages.BaseStorage | None = None,
    params_path: Path | None = None,
    config: TrainingConfig | None = None,
    log_to_mlflow: bool = True,
    report_test: bool = False,
    workers: int = 1,
    say: Callable[[str], None] | None = None,
) -> TuneResult:
    """Run (or continue) the study and write the best params where ``compass train`` reads them.

    ``workers`` > 1: that many processes, each running ``n_trials`` / ``timeout`` of its own on
    the study (a database server's storage only, see the module doc). ``say``: a line per trial
    as it ends (the workers' too) and per step after."""
    say = say or (lambda line: None)
    if n_trials is None and timeout is None:
        raise ValueError("give a budget: n_trials and/or timeout")
    config = config or load_config()
    # the objectives differ (see the module doc): a study is one of them
    name = study_name or f"{spec.name}-{'blend' if config.blend.enabled else 'lightgbm'}"
    storage = storage or study_storage()
    if workers > 1 and storage.url.startswith("sqlite"):
        raise TuneError(
            f"--workers {workers} needs --storage on a database server (postgresql://...): "
            "Optuna's documentation advises against parallel workers on SQLite, whose writers "
            "lock the whole file"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(name, storage, resume)
    before = len(study.trials)
    parent = None
    if log_to_mlflow:
        registry.configure(config.experiment)
        parent = mlflow.start_run(run_name=f"tune-{name}")
        mlflow.set_tags({"kind": "tuning", "study": name, "dataset": spec.name, "resume": resume})
    parent_id = parent.info.run_id if parent is not None else None
    reports: list[WorkerReport] = []
    budget = [f"{n_trials} trials"] if n_trials is not None else []
    budget += [f"{timeout:.0f} s"] if timeout is not None else []
    where = f"in each of {workers} workers" if workers > 1 else "now"
    say(f"study {name}: {before} trials so far; {' and '.join(budget)} {where}")
    try:
        if workers == 1:
            prep = prepare(frame, spec, config)
            _optimize(study, prep, config, n_trials, timeout, parent_id, progress=say)
        else:
            job = _Job(frame, spec, name, storage, n_trials, timeout, config, parent_id)
            reports = _run_workers(job, workers, say)
        if not _has_complete(study):
            raise RuntimeError(f"study {name!r}: no trial completed (all pruned or failed)")
    except BaseException:
        if parent is not None:  # interrupted: the parent run says so; the study keeps its trials
            mlflow.end_run("KILLED")
        raise
    best = study.best_trial
    searched = best.params.items()
    best_params = {k: v for k, v in searched if not k.startswith(BLEND_PREFIX)}
    best_params["bagging_freq"] = 1
    n = len(BLEND_PREFIX)
    best_blend = {k[n:]: v for k, v in searched if k.startswith(BLEND_PREFIX)}
    if best_blend and "C" not in best_blend:  # a one-value c_grid is not searched
        best_blend["C"] = config.blend.c_grid[0]
    params_path = params_path or tuned_params_path(spec.name)
    params_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "params": best_params,
        "blend": best_blend or None,
        "value": best.value,
        "study": name,
        "spec": spec.name,
        "trial": best.number,
        "n_rounds_cv": best.user_attrs.get("n_rounds"),
        "n_trials": len(study.trials),
        "w_cv": best.user_attrs.get("w"),  # informational: training chooses w on its folds
        "objective": (
            f"pooled out-of-fold log loss of the blend over {config.cv_folds} time folds"
            if best_blend
            else f"mean out-of-time CV log loss over {config.cv_folds} folds"
        ),
    }
    params_path.write_text(json.dumps(payload, indent=2))
    say(f"best: trial {best.number}, cv log loss {best.value:.4f} -> {params_path}")
    test: dict[str, Any] = {}
    if report_test:
        say("training once with the best params, for the test period's metrics")
        # after selection, once: the test period with a bootstrap interval (never selected on)
        tuned = tuned_config(config, best_blend)
        test = model_summary(train_model(frame, spec, best_params, tuned))
    if parent is not None:
        mlflow.log_metrics({"best_cv_logloss": best.value, "n_trials": len(study.trials)})
        chosen = best_params | {f"{BLEND_PREFIX}{k}": v for k, v in best_blend.items()}
        mlflow.log_params({f"best_{k}": v for k, v in chosen.items()})
        mlflow.log_metrics(
            {f"test_{k}": v for k, v in test.items() if isinstance(v, int | float)}
            | (
                {"test_auc_ci_low": test["auc_ci"][0], "test_auc_ci_high": test["auc_ci"][1]}
                if test
                else {}
            )
        )
        mlflow.log_artifact(str(params_path))
        mlflow.end_run()
    return TuneResult(
        study,
        best_params,
        best_blend,
        best.value,
        len(study.trials),
        len(study.trials) - before,
        params_path,
        test,
        reports,
    )


def _optimize(
    study: optuna.Study,
    prep: Prepared,
    config: TrainingConfig,
    n_trials: int | None,
    timeout: float | None,
    parent_run_id: str | None,
    worker: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Run this process's budget on the study; the number of trials it ran. ``progress``: a
    line per trial as it ends (naming the local ``worker``, if one)."""
    ran = 0

    def ended(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal ran
        ran += 1
        if progress is not None:
            progress(_trial_line(study, trial, ran, n_trials, worker))

    objective = make_objective(prep, config, _mlflow_trial_logger(parent_run_id))
    study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=[ended])
    return ran


def _trial_line(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial,
    ran: int,
    budget: int | None,
    worker: int | None,
) -> str:
    """One trial's line: ``trial 7 (3/20): cv log loss 0.4567, 12.3 s; best 0.4501 (trial 5)``."""
    who = f"worker {worker}: " if worker is not None else ""
    of = f"{ran}/{budget}" if budget else f"{ran}"
    done = trial.state == optuna.trial.TrialState.COMPLETE
    outcome = f"cv log loss {trial.value:.4f}" if done else trial.state.name.lower()
    seconds = trial.duration.total_seconds() if trial.duration is not None else 0.0
    best = ""
    if _has_complete(study):
        best = f"; best {study.best_value:.4f} (trial {study.best_trial.number})"
    return f"  {who}trial {trial.number} ({of}): {outcome}, {seconds:.1f} s{best}"


@dataclass(frozen=True)
class _Progress:
    """A worker's line about a trial it ended, for the command's console."""

    line: str


@dataclass(frozen=True)
class _Job:
    """What every worker process needs (sent to each when it starts)."""

    frame: pd.DataFrame
    spec: DatasetSpec
    study_name: str
    storage: optuna.storages.RDBStorage
    n_trials: int | None
    timeout: float | None
    config: TrainingConfig
    parent_run_id: str | None


def _run_workers(job: _Job, workers: int, say: Callable[[str], None]) -> list[WorkerReport]:
    """Run ``workers`` processes on the study; their reports, in worker order. Each reads the
    best trial only once all are done (a barrier), so every one reports the study's final best.
    Forked from a fresh server process that imported this module once (a fork of this process
    would inherit LightGBM's OpenMP threads and the study's open connections). Their lines
    about each trial come through the results queue to ``say``: the workers' own output goes
    where the command's libraries' goes (its log file)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(job, i, barrier, results), name=f"tune-worker-{i}")
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports: dict[int, WorkerReport] = {}
    failure: str | None = None
    try:
        while len(reports) < workers and failure is None:
            try:
                outcome = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:  # killed before it could say why: release the others
                    barrier.abort()
                    failure = f"{dead[0].name} exited with status {dead[0].exitcode}"
                continue
            if isinstance(outcome, _Progress):
                say(outcome.line)
            elif isinstance(outcome, WorkerReport):
                reports[outcome.worker] = outcome
            else:
                failure = outcome
    finally:
        if failure is not None or len(reports) < workers:
            barrier.abort()
            for proc in procs:
                proc.terminate()
        for proc in procs:
            proc.join()
    if failure is not None:
        raise RuntimeError(f"tuning worker failed: {failure}")
    return [reports[i] for i in range(workers)]


def _worker(job: _Job, worker: int, barrier: Any, results: Any) -> None:
    """One worker process: its budget on the study, then (after every worker) the best trial."""
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if job.parent_run_id is not None:
            registry.configure(job.config.experiment)
        study = open_study(job.study_name, job.storage, resume=True, worker=worker)
        prep = prepare(job.frame, job.spec, job.config)
        ran = _optimize(
            study,
            prep,
            job.config,
            job.n_trials,
            job.timeout,
            job.parent_run_id,
            worker,
            progress=lambda line: results.put(_Progress(line)),
        )
        barrier.wait()
        best = study.best_trial
        results.put(WorkerReport(worker, os.getpid(), ran, best.number, best.params))
    except BaseException as exc:
        barrier.abort()
        results.put(f"worker {worker}: {type(exc).__name__}: {exc}")


def _has_complete(study: optuna.Study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def load_tuned(
    path: Path, spec: DatasetSpec, config: TrainingConfig
) -> tuple[dict[str, Any], TrainingConfig] | None:
    """(LightGBM params, ``config`` with the tuned blend choices) from a best_params.json, or
    None if that file was tuned for another dataset."""
    params = load_tuned_params(path, spec)
    if params is None:
        return None
    return params, tuned_config(config, json.loads(path.read_text()).get("blend"))


def load_tuned_params(path: Path, spec: DatasetSpec) -> dict[str, Any] | None:
    """Params from a best_params.json, or None if that file was tuned for another dataset."""
    payload = json.loads(path.read_text())
    if payload.get("spec") not in (None, spec.name):
        return None
    # studies from before max_depth was searched ran without a depth limit: keep it that way
    # rather than cap their num_leaves with config.yaml's depth
    return {"max_depth": -1, **payload["params"]}
