"""The training pipeline, wired: load -> train -> log & register -> promotion gate; and the
embedded default's first champion (what `make serve` needs on a fresh machine)."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from core.settings import state_dir
from features.simulator import simulate
from features.spec import DatasetSpec, SpecError, load_spec
from scoring import prediction_log, store
from training import DEFAULT_SPEC, registry
from training.dataset import DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED, load_launches
from training.outcome_history import scored_launches
from training.promote import promote
from training.report import write_run_report
from training.stages import Stages
from training.train import TrainingConfig, load_config, train_model
from training.tune import find_tuned, tuned_config

Say = Callable[[str], None]
# the stages of one training run, in their order, as the console names them
STAGE_NAMES = {
    "load": "load the launch history",
    "features": "features",
    "time_folds": "time-fold CV",
    "final_fit": "final fit",
    "pre_test_and_forecast": "pre-test model, forecast",
    "interval": "interval (refits)",
    "test_scores": "score the test period",
    "baselines": "baselines",
    "report": "report and plots",
    "text_ablation": "the model without its text",
    "mlflow_logging": "log and register in MLflow",
    "gate": "promotion gate",
}


def run_stages(spec: DatasetSpec, config: TrainingConfig) -> list[str]:
    """The stages a training run of ``spec`` goes through, in order (an interval only with
    members; the model without its text only for a spec with text)."""
    skipped = {"interval"} if not config.interval.members else set()
    skipped |= {"text_ablation"} if not spec.text else set()
    return [name for name in STAGE_NAMES if name not in skipped]


def stage_lines(
    say: Say, status: Say | None = None, names: list[str] | None = None
) -> Callable[[str, float | None], None]:
    """A :class:`Stages` watcher that says each stage's line with its seconds when it ends and,
    given ``status``, shows it while it runs ("3/10 time-fold CV ..."); ``names``: the stages
    this run goes through (:func:`run_stages`; default: all)."""
    names = names or list(STAGE_NAMES)

    def watch(name: str, seconds: float | None) -> None:
        step = f"{names.index(name) + 1:>2}/{len(names)}" if name in names else "     "
        line = f"  {step} {STAGE_NAMES.get(name, name):<27}"
        if seconds is not None:
            say(f"{line}{seconds:6.1f} s")
        elif status is not None:
            status(f"{line}   ...")

    return watch


def run_training(
    data: Path | None,
    spec_path: Path,
    params_path: Path | None = None,
    gate: bool = True,
    force: bool = False,
    with_outcomes: bool = False,
    say: Say | None = None,
    status: Say | None = None,
) -> dict[str, Any]:
    """``with_outcomes``: the history gains the scored concepts whose outcomes came back
    (``training.outcome_history``); the out-of-time test is the newest launches, so the gate
    judges challenger and champion on the newest outcomes. ``stages`` in the result: the
    :class:`~training.stages.Stages` recorder, seconds per stage (``compass bench train``).
    ``say``: each stage's line as it ends (``status``: while it runs, see :func:`stage_lines`)."""
    config = load_config()
    spec = load_spec(spec_path)
    watch = stage_lines(say, status, run_stages(spec, config)) if say is not None else None
    stages = Stages(watch=watch)
    model_name = store.model_name_for(spec.name)  # one registered model per launch history
    scored = _scored_launches(spec, model_name) if with_outcomes else None
    with stages("load"):
        loaded = load_launches(spec, data, spec_dir=spec_path.parent, scored=scored)
    params: dict[str, Any] = {}
    applied: dict[str, Any] = {"file": None}  # config.yaml's
    if params_path is not None:
        payload = _params_file(params_path)
        params, config = payload["params"], tuned_config(config, payload.get("blend"))
        applied = {"file": str(params_path), "study": payload.get("study")}
    elif (tuned := find_tuned(spec, config)) is not None:
        # tuned params (and blend choices) apply only to the dataset they were tuned on
        params, config, params_path = tuned.params, tuned.config, tuned.path
        applied = tuned.summary()
    result = train_model(loaded.frame, spec, params, config, stages)
    # open or closed, as fitted on the training period (the spec's word, else inferred)
    loaded.report["vocabularies"] = {
        col: choice.to_dict() for col, choice in result.model.features.vocabularies.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        # baselines, bootstrap CI, plots and the Markdown model report, in the same run
        report = write_run_report(result, spec, Path(tmp) / "report", stages, config)
        with stages("mlflow_logging"):
            version = registry.log_and_register(
                result.model,
                spec,
                result.train,
                result.test,
                result.params,
                result.test_metrics,
                extra_artifacts={"report": report.folder},
                tags={
                    "params_source": str(params_path or "config.yaml"),
                    "scored_with_outcomes": str(loaded.report.get("scored_with_outcomes", 0)),
                },
                model_name=model_name,
                extra_metrics=report.metrics,
            )
    with stages("gate"):
        decision = (
            promote(version, config.promotion, force=force, model_name=model_name)
            if gate
            else {"promoted": False, "reason": "gate skipped"}
        )
    run = registry.run_of(version, model_name)
    return {
        "model_name": model_name,
        "version": version,
        "params_applied": applied,  # the tuned params file (None: config.yaml's)
        "mlflow_run": {
            "id": run.run_id,
            "page": registry.run_page(run),
            "report": _shown_uri(f"{run.artifact_uri}/report/model_report.md"),
        },
        "data_report": loaded.report,
        "data_notes": loaded.notes,  # for the console: a fallback encoding, ambiguous dates
        "test_metrics": result.test_metrics,
        "calibration": result.calibration,
        "evaluation": report.summary,
        "promotion": decision,
        "train_result": result,
        "stages": stages,
    }


def _params_file(path: Path) -> dict[str, Any]:
    """A --params file: JSON with "params" (and optionally "blend"), as `compass tune` writes."""
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"--params {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("params"), dict):
        raise SpecError(f'--params {path}: expected {{"params": {{...}}}}, as compass tune writes')
    return payload


def result_lines(result: dict[str, Any]) -> list[str]:
    """What a person reads after a training run: what to know about the data (a fallback
    encoding, ambiguous dates), the version and its test, the params it used, the gate's
    decision, and where to look (the MLflow run, the model report)."""
    metrics, run = result["test_metrics"], result["mlflow_run"]
    low, high = result["evaluation"]["model"]["auc_ci"]
    decision = result["promotion"]
    verdict = "champion now" if decision["promoted"] else "not promoted"
    return [
        *(f"warning: {note}" for note in result["data_notes"]),
        f"{result['model_name']} version {result['version']}: test AUC {metrics['auc']:.3f} "
        f"(95% CI {low:.3f}-{high:.3f}), log loss {metrics['logloss']:.3f}, on the newest "
        f"{len(result['train_result'].test)} launches",
        _params_line(result["params_applied"]),
        f"promotion gate: {verdict} ({decision['reason']})",
        f"MLflow run {run['id']}: {run['page']} (`make mlflow-ui` on a local store)",
        f"model report: {run['report']}",
    ]


def _shown_uri(uri: str) -> str:
    """A local artifact's path (what a person opens), any other URI as it is."""
    parsed = urllib.parse.urlsplit(uri)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri


def _params_line(applied: dict[str, Any]) -> str:
    """The line saying which tuned params the run applied."""
    if applied["file"] is None:
        return "params: config.yaml's (no tuned params for this spec: `compass tune` writes them)"
    if applied.get("trial") is None:
        return f"params: {applied['file']}"
    return (
        f"params: tuned, from {applied['file']} (study {applied['study']}, trial "
        f"{applied['trial']} of {applied['n_trials']}, CV log loss {applied['cv_logloss']:.4f})"
    )


def _scored_launches(spec: DatasetSpec, model_name: str) -> pd.DataFrame:
    if not prediction_log.exists():
        where = prediction_log.shown(prediction_log.default_location())
        raise FileNotFoundError(
            f"--with-outcomes: no prediction log at {where}: nothing was scored here yet"
        )
    log = prediction_log.PredictionLog()
    try:
        return scored_launches(spec, model_name, log)
    finally:
        log.close()


def ensure_champion(
    spec_path: Path = DEFAULT_SPEC, say: Say = print, status: Say | None = None
) -> tuple[str, str]:
    """(registered model, champion version) of the spec's launch history; without a champion,
    train one first: on the embedded default, simulate its launch history; otherwise on the
    spec's source file (``say`` reports each step and stage: it takes a while; ``status`` as in
    :func:`run_training`)."""
    spec = load_spec(spec_path)
    model_name = store.model_name_for(spec.name)
    current = registry.champion_version(model_name)
    if current is not None:
        return model_name, current
    data = None
    if spec.source == "simulator":
        data = state_dir() / "launches.parquet"
        if not data.exists():
            say(f"simulating the default launch history ({DEFAULT_SIM_ROWS} launches) -> {data}")
            simulate(DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED).to_parquet(data, index=False)
    say(f"no champion of {model_name} yet: training one (about a minute on 2 cores)")
    result = run_training(data=data, spec_path=spec_path, say=say, status=status)
    for line in result_lines(result):
        say(line)
    if not result["promotion"]["promoted"]:  # a first version always passes the gate
        raise RuntimeError(f"version {result['version']} was not promoted: nothing to serve")
    return model_name, result["version"]
