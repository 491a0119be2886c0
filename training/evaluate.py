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
) -> tuple[float, float] | None:
    """95 % percentile bootstrap interval of a metric (``auc``, ``logloss``, ``brier`` or
    ``ece``) over test rows; None if no resample holds both classes. The same seed draws the
    same resamples for every metric.

    A resample is held as how often it draws each row: the metric of the resample is then a
    weighted sum over rows sorted once, O(rows) each instead of a sort per resample (the same
    values as ``roc_auc_score`` / ``log_loss`` / ``brier_score_loss`` on the drawn rows, up to
    rounding; about 30 times faster than calling them, measured on 1,500 rows: the monitor
    bootstraps every version and period). ECE, whose bins follow the resample's own order, is
    computed on the drawn rows."""
    rng = np.random.default_rng(seed)
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    n = len(y)
    if metric == "auc":
        # tied scores form one group: a positive beats the negatives below it, half the tied
        values, group = np.unique(p, return_inverse=True)

        def fn(idx: np.ndarray, counts: np.ndarray) -> float:
            pos = np.bincount(group, weights=counts * y, minlength=len(values))
            neg = np.bincount(group, weights=counts * (1 - y), minlength=len(values))
            below = np.cumsum(neg) - neg
            return float(pos @ (below + 0.5 * neg) / (pos.sum() * neg.sum()))

    elif metric in ("logloss", "brier"):
        if metric == "logloss":
            eps = np.finfo(p.dtype).eps  # log_loss's own clipping
            q = np.clip(p, eps, 1 - eps)
            row_loss = -(y * np.log(q) + (1 - y) * np.log(1 - q))
        else:
            row_loss = (y - p) ** 2

        def fn(idx: np.ndarray, counts: np.ndarray) -> float:
            return float(counts @ row_loss / n)

    elif metric == "ece":

        def fn(idx: np.ndarray, counts: np.ndarray) -> float:
            return expected_calibration_error(y[idx], p[idx])

    else:
        raise ValueError(f"unknown metric {metric!r}")
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if y[idx].min() != y[idx].max():
            vals.append(fn(idx, np.bincount(idx, minlength=n).astype(float)))
    if not vals:
        return None
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    order = np.argsort(p)
    return [
        {"mean_predicted": float(p[c].mean()), "observed_rate": float(y[c].mean()), "n": len(c)}
        for c in np.array_split(order, bins)
        if len(c)
    ]
