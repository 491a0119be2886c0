"""The training pipeline, wired: load -> train -> log & register -> promotion gate; and the
embedded default's first champion (what `make serve` needs on a fresh machine)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from core.settings import state_dir
from features.simulator import simulate
from features.spec import DatasetSpec, load_spec
from scoring import prediction_log, store
from training import DEFAULT_SPEC, registry
from training.dataset import DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED, load_launches
from training.outcome_history import scored_launches
from training.promote import promote
from training.report import write_run_report
from training.stages import Stages
from training.train import load_config, train_model
from training.tune import load_tuned, tuned_config, tuned_params_path


def run_training(
    data: Path | None,
    spec_path: Path,
    params_path: Path | None = None,
    gate: bool = True,
    force: bool = False,
    with_outcomes: bool = False,
) -> dict[str, Any]:
    """``with_outcomes``: the history gains the scored concepts whose outcomes came back
    (``training.outcome_history``); the out-of-time test is the newest launches, so the gate
    judges challenger and champion on the newest outcomes. ``stages`` in the result: the
    :class:`~training.stages.Stages` recorder, seconds per stage (``compass bench train``)."""
    stages = Stages()
    config = load_config()
    spec = load_spec(spec_path)
    model_name = store.model_name_for(spec.name)  # one registered model per launch history
    scored = _scored_launches(spec, model_name) if with_outcomes else None
    with stages("load"):
        loaded = load_launches(spec, data, spec_dir=spec_path.parent, scored=scored)
    params: dict[str, Any] = {}
    if params_path is not None:
        payload = json.loads(params_path.read_text())
        params, config = payload["params"], tuned_config(config, payload.get("blend"))
    elif tuned_params_path().exists():
        # tuned params (and blend choices) apply only to the dataset they were tuned on
        tuned = load_tuned(tuned_params_path(), spec, config)
        if tuned is not None:
            (params, config), params_path = tuned, tuned_params_path()
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
    return {
        "model_name": model_name,
        "version": version,
        "data_report": loaded.report,
        "data_notes": loaded.notes,  # for the console: a fallback encoding, ambiguous dates
        "test_metrics": result.test_metrics,
        "calibration": result.calibration,
        "evaluation": report.summary,
        "promotion": decision,
        "train_result": result,
        "stages": stages,
    }


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
    spec_path: Path = DEFAULT_SPEC, say: Callable[[str], None] = print
) -> tuple[str, str]:
    """(registered model, champion version) of the spec's launch history; without a champion,
    train one first: on the embedded default, simulate its launch history; otherwise on the
    spec's source file (``say`` reports each step: it takes a while)."""
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
    result = run_training(data=data, spec_path=spec_path)
    for note in result["data_notes"]:
        say(f"warning: {note}")
    say(f"trained version {result['version']}: {result['promotion']['reason']}")
    if not result["promotion"]["promoted"]:  # a first version always passes the gate
        raise RuntimeError(f"version {result['version']} was not promoted: nothing to serve")
    return model_name, result["version"]
