"""Volume forecast and category norms."""

from __future__ import annotations

import numpy as np
import pytest

from training.forecast import conformal_offset, evaluate_forecast


def test_forecast_interval_covers_80_percent_out_of_time(champion: dict) -> None:
    result = champion["train_result"]
    q = evaluate_forecast(result.model, result.test)
    assert q["n"] == len(result.test)
    assert 0.75 <= q["coverage_80"] <= 0.85, q
    assert q["below_p10"] < 0.15 and q["above_p90"] < 0.15, q
    assert 0 < q["mape_p50"] < 2.0


def test_forecast_beats_a_constant(champion: dict) -> None:
    """The median forecast explains volume: lower absolute log error than the training median."""
    from training.dataset import to_columns

    result = champion["train_result"]
    model, test = result.model, result.test
    p50 = model.forecast.predict(model.matrix(to_columns(test, model.features.spec)))["p50"]
    y = np.log1p(test["gmv_90d"].to_numpy())
    constant = np.median(np.log1p(result.train["gmv_90d"].to_numpy()))
    assert np.mean(np.abs(np.log1p(p50) - y)) < 0.8 * np.mean(np.abs(constant - y))


def test_conformal_offset() -> None:
    scores = np.arange(1, 100, dtype=float)  # 99 scores 1..99
    # the ceil((n+1)(1-miss))/n empirical quantile: ceil(100 * 0.9) = 90th smallest
    assert conformal_offset(scores, 0.1) == 90.0
    assert conformal_offset(scores[:5], 0.1) == 5.0  # too few: the largest


def test_category_norms_are_out_of_fold(champion: dict) -> None:
    result = champion["train_result"]
    norms = result.model.norms
    assert norms["by"] == "category"
    assert norms["n"]["*"] == int(result.cv.mask.sum()) < len(result.train)
    for key, q in norms["quantiles"].items():
        assert q == sorted(q) and len(q) == 201 and 0 <= q[0] <= q[-1] <= 1
        assert 0 <= norms["hit_rate"][key] <= 1
    cats = result.train["category"][result.cv.mask]
    assert norms["n"]["skincare"] == int((cats == "skincare").sum())


def test_model_without_outcome_has_no_forecast(champion: dict) -> None:
    from scoring.scorer import BadRequest, Scorer

    model = champion["train_result"].model
    bare = type(model)(model.booster, model.features, model.calibrator, model.pre_test_booster)
    with pytest.raises(BadRequest, match="no volume forecast"):
        Scorer(bare, "x").forecast([{"concept_id": "a"}])
    with pytest.raises(ValueError, match="no volume forecast"):
        evaluate_forecast(bare, champion["train_result"].test)
