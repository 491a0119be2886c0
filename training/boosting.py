"""LightGBM plumbing shared by every booster training fits (hit model, pre-test, forecast,
ablation variants): the dataset and the spec's monotone constraints."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from features.spec import DatasetSpec


def dataset(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    categorical: list[str],
    weight: np.ndarray | None = None,
) -> lgb.Dataset:
    """A LightGBM dataset with named features (and optional row weights); raw data kept (CV
    reuses it across folds)."""
    return lgb.Dataset(
        x,
        y,
        weight=weight,
        feature_name=names,
        categorical_feature=categorical,
        free_raw_data=False,
    )


def booster_params(params: dict[str, Any], spec: DatasetSpec, names: list[str]) -> dict[str, Any]:
    """``params`` plus the spec's monotone constraints, one per feature in ``names``' order."""
    p = dict(params)
    if spec.monotone:
        p["monotone_constraints"] = [spec.monotone.get(n, 0) for n in names]
        p.setdefault("monotone_constraints_method", "advanced")
    return p
