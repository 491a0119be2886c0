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
    """The norms are the quantiles of the served log-odds' out-of-fold twin, calibrated: each
    launch as a fold model trained on earlier launches scored it; not the final model's
    in-sample scores of the same launches."""
    from training.dataset import to_columns
    from training.forecast import NORM_QUANTILES

    result = champion["train_result"]
    model, norms = result.model, result.model.norms
    choice = result.extras.get("blend")  # a blend's norms come from its pooled out-of-fold
    oof = choice.oof_logit if choice is not None else result.cv.oof_logit
    has = np.isfinite(oof)  # launches before the first validation block have none
    assert norms["by"] == "category"
    assert norms["n"]["*"] == int(has.sum()) < len(result.train)
    oof, label = oof[has], result.train["label"].to_numpy()[has]
    cats = result.train["category"].to_numpy()[has]
    in_sample = model.log_odds(model.matrix(to_columns(result.train, model.spec)))[has]
    grid = np.linspace(0.0, 1.0, NORM_QUANTILES)
    counts = dict(zip(*np.unique(cats, return_counts=True), strict=True))
    assert set(norms["quantiles"]) == {"*"} | {c for c, n in counts.items() if n >= 20}
    for key, q in norms["quantiles"].items():
        rows = np.ones(len(oof), dtype=bool) if key == "*" else cats == key
        assert norms["n"][key] == int(rows.sum())
        expected = np.quantile(model.calibrated(oof[rows]), grid)
        np.testing.assert_allclose(q, expected, atol=1e-6)
        assert q == sorted(q) and len(q) == NORM_QUANTILES
        assert norms["hit_rate"][key] == pytest.approx(label[rows].mean())
    fitted = np.quantile(model.calibrated(in_sample), grid)
    assert np.abs(np.asarray(norms["quantiles"]["*"]) - fitted).max() > 0.01


def test_model_without_outcome_has_no_forecast(champion: dict) -> None:
    from scoring.scorer import BadRequest, Scorer

    model = champion["train_result"].model
    bare = type(model)(model.booster, model.features, model.calibrator, model.pre_test_booster)
    with pytest.raises(BadRequest, match="no volume forecast"):
        Scorer(bare, "x").forecast([{"concept_id": "a"}])
    with pytest.raises(ValueError, match="no volume forecast"):
        evaluate_forecast(bare, champion["train_result"].test)
