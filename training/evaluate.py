"""Metrics for hit probabilities: ranking, calibration and what a product team acts on."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean prediction| over equal-count bins."""
    order = np.argsort(p)
    ece = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            ece += len(chunk) / len(p) * abs(float(y[chunk].mean() - p[chunk].mean()))
    return ece


def top_decile_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Of the 10 % best-scored concepts, the share that became hits."""
    k = max(1, int(round(0.1 * len(p))))
    return float(y[np.argsort(-p, kind="stable")[:k]].mean())


def score(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    tdp = top_decile_precision(y, p)
    return {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "logloss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "top_decile_precision": tdp,
        "top_decile_lift": tdp / max(float(y.mean()), 1e-9),
    }


def bootstrap_ci(
    y: np.ndarray, p: np.ndarray, metric: str = "auc", n_boot: int = 500, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of a metric over test rows."""
    rng = np.random.default_rng(seed)
    y, p = np.asarray(y), np.asarray(p)
    fn = {"auc": roc_auc_score, "logloss": lambda a, b: log_loss(a, b, labels=[0, 1])}[metric]
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() != y[idx].max():
            vals.append(fn(y[idx], p[idx]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    order = np.argsort(p)
    return [
        {"mean_predicted": float(p[c].mean()), "observed_rate": float(y[c].mean()), "n": len(c)}
        for c in np.array_split(order, bins)
        if len(c)
    ]
