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
    """``params`` plus the spec's monotone constraints (``feature_monotone``: text scores
    too), one per feature in ``names``' order."""
    p = dict(params)
    monotone = spec.feature_monotone()
    if monotone:
        p["monotone_constraints"] = [monotone.get(n, 0) for n in names]
        p.setdefault("monotone_constraints_method", "advanced")
    return p


def sample_rows(rows: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """``rows`` if there are at most ``max_rows``, else a seeded sample of that many, in their
    order (so a sample of date-sorted rows stays date-sorted)."""
    if len(rows) <= max_rows:
        return rows
    keep = np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)
    return rows[np.sort(keep)]
