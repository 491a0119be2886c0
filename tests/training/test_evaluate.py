"""The bootstrap interval: the resample-as-counts arithmetic equals the metric on drawn rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from training.evaluate import bootstrap_ci, expected_calibration_error


@pytest.mark.parametrize("metric", ["auc", "logloss", "brier", "ece"])
def test_bootstrap_ci_equals_the_metric_on_each_resample(metric: str) -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.1).astype(int)
    # rounded scores: many ties, which AUC counts as half; a few at 0 and 1 for the clipping
    p = np.round(np.clip(0.1 + 0.2 * y + 0.15 * rng.standard_normal(3000), 0, 1), 2)
    fn = {
        "auc": roc_auc_score,
        "logloss": lambda a, b: log_loss(a, b, labels=[0, 1]),
        "brier": brier_score_loss,
        "ece": expected_calibration_error,
    }[metric]
    draws, vals = np.random.default_rng(0), []
    for _ in range(60):
        idx = draws.integers(0, len(y), len(y))
        vals.append(fn(y[idx], p[idx]))
    expected = np.percentile(vals, [2.5, 97.5])
    np.testing.assert_allclose(bootstrap_ci(y, p, metric, n_boot=60), expected, rtol=1e-12)


def test_no_resample_with_both_classes_has_no_interval() -> None:
    assert bootstrap_ci(np.zeros(50, dtype=int), np.full(50, 0.1), "brier", n_boot=20) is None
