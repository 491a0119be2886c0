"""The training pipeline, wired: load -> train -> log & register -> promotion gate."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from features.spec import load_spec
from training import registry
from training.dataset import load_launches
from training.promote import promote
from training.report import write_run_report
from training.train import load_config, train_model


def tuned_params_path() -> Path:
    return registry.state_dir() / "best_params.json"


def run_training(
    data: Path | None,
    spec_path: Path,
    params_path: Path | None = None,
    gate: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    config = load_config()
    spec = load_spec(spec_path)
    loaded = load_launches(spec, data, spec_dir=spec_path.parent)
    if params_path is None and tuned_params_path().exists():
        # tuned params apply only to the dataset they were tuned on
        tuned = json.loads(tuned_params_path().read_text())
        if tuned.get("spec") in (None, spec.name):
            params_path = tuned_params_path()
    params = json.loads(params_path.read_text())["params"] if params_path else {}
    result = train_model(loaded.frame, spec, params, config)
    with tempfile.TemporaryDirectory() as tmp:
        # baselines, bootstrap CI, plots and the Markdown model report, in the same run
        report = write_run_report(result, spec, Path(tmp) / "report")
        version = registry.log_and_register(
            result.model,
            spec,
            result.train,
            result.test,
            result.params,
            result.test_metrics,
            extra_artifacts={"report": report.folder},
            tags={"params_source": str(params_path or "config.yaml")},
            extra_metrics=report.metrics,
        )
    decision = (
        promote(version, config, force=force)
        if gate
        else {"promoted": False, "reason": "gate skipped"}
    )
    return {
        "version": version,
        "data_report": loaded.report,
        "test_metrics": result.test_metrics,
        "calibration": result.calibration,
        "evaluation": report.summary,
        "promotion": decision,
        "train_result": result,
    }
