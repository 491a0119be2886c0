"""The training pipeline, wired: load -> train -> log & register -> promotion gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from features.spec import load_spec
from training import registry
from training.dataset import load_launches
from training.promote import promote
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
    params_path = params_path or (tuned_params_path() if tuned_params_path().exists() else None)
    params = json.loads(params_path.read_text())["params"] if params_path else {}
    result = train_model(loaded.frame, spec, params, config)
    version = registry.log_and_register(
        result.model,
        spec,
        result.train,
        result.test,
        result.params,
        result.test_metrics,
        tags={"params_source": str(params_path or "config.yaml")},
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
        "promotion": decision,
        "train_result": result,
    }
