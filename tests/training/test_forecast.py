"""Volume forecast (a single outcome, and the curve over time) and category norms."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.curve import CurveForecast
from models.hit_model import QuantileForecast
from training.dataset import to_columns
from training.forecast import (
    attach_scoring_extras,
    conformal_offset,
    evaluate_forecast,
    known_outcomes,
)


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


# small_result's launches and params, its spec without outcomes over time: the single forecast's
# P10 / P50 / P90 of the first five test launches, computed with the code of commit ee8df4d
# (before the curve existed): fit_forecast(prep.x, gmv_90d, prep.fb, fast_config.lightgbm)
BEFORE_THE_CURVE = {
    "p10": [
        44637.037508192734,
        74041.68761811116,
        149724.43223661007,
        132273.45270580734,
        122210.51996077913,
    ],
    "p50": [
        123895.83463222132,
        239974.96132953657,
        689814.4406347771,
        583095.2889458332,
        496511.7682218209,
    ],
    "p90": [
        466694.04116811557,
        550903.6102057665,
        2703052.8124828143,
        1694358.0069552055,
        2386774.5618074983,
    ],
}


def _concepts(model, frame) -> list[dict]:
    frame = frame.copy()
    frame["launch_date"] = frame["launch_day"].dt.strftime("%Y-%m-%d")
    fields = model.concept_schema.names
    return [{k: getattr(r[k], "item", lambda v=r[k]: v)() for k in fields}
            for r in frame.to_dict("records")]  # fmt: skip


def test_a_single_outcome_forecasts_exactly_as_before(small_result) -> None:
    """A history with one outcome column: the single first-90-day forecast, number for number,
    and an answer without a curve."""
    from scoring.scorer import Scorer

    model, train = small_result.model, small_result.train
    spec = model.spec.model_copy(update={"outcomes": {}})
    single = dataclasses.replace(
        model, features=dataclasses.replace(model.features, spec=spec), forecast=None
    )
    x = single.matrix(to_columns(train, spec))
    attach_scoring_extras(single, train, x, small_result.cv.oof_logit, small_result.params)
    assert isinstance(single.forecast, QuantileForecast) and single.forecast.outcome == "gmv_90d"
    head = small_result.test.head(5)
    q = single.forecast.predict(single.matrix(to_columns(head, spec)))
    for key, before in BEFORE_THE_CURVE.items():
        np.testing.assert_allclose(q[key], before, rtol=1e-12)
    answers = Scorer(single, "single").forecast(_concepts(single, head))
    for a, p10, p50, p90 in zip(answers, *BEFORE_THE_CURVE.values(), strict=True):
        assert (a["p10"], a["p50"], a["p90"]) == (round(p10, 2), round(p50, 2), round(p90, 2))
        assert a["outcome"] == "gmv_90d" and a["curve"] is None and a["seasonal_peaks"] is None


def _check_coherent(q: dict[str, np.ndarray]) -> None:
    for key, v in q.items():
        assert np.isfinite(v).all() and (v >= 0).all(), key
        assert (np.diff(v, axis=1) >= 0).all(), f"{key} decreases over horizons"
    assert (q["p10"] <= q["p50"]).all() and (q["p50"] <= q["p90"]).all(), "quantiles cross"


def test_curves_never_decrease_and_quantiles_never_cross(small_result) -> None:
    model = small_result.model
    fc = model.forecast
    assert isinstance(fc, CurveForecast) and [c for c, _ in fc.horizons][2] == "gmv_90d"
    x = model.matrix(to_columns(small_result.test, model.spec))
    _check_coherent(fc.curve(x))
    # whatever the boosters and offsets say: raw quantiles that cross and zig-zag over
    # horizons, offsets of any sign and size per horizon
    rng = np.random.default_rng(0)
    for _ in range(20):
        shape = (50, len(fc.horizons))
        raw = {k: rng.normal(12, 2, shape) for k in ("p10", "p50", "p90")}
        offsets = rng.normal(0, 1, (2, shape[1]))
        fake = dataclasses.replace(
            fc, lower_offsets=list(offsets[0]), upper_offsets=list(offsets[1])
        )
        fake.raw = lambda _x, raw=raw: {k: np.maximum.accumulate(v, 1) for k, v in raw.items()}
        _check_coherent(fake.curve(x[:50]))


def test_the_curve_covers_80_percent_at_every_horizon(champion: dict) -> None:
    result = champion["train_result"]
    model, test = result.model, result.test
    q = model.forecast.curve(model.matrix(to_columns(test, model.spec)))
    for j, (column, _) in enumerate(model.forecast.horizons):
        y = test[column].to_numpy(float)
        inside = np.mean((q["p10"][:, j] <= y) & (y <= q["p90"][:, j]))
        assert 0.74 <= inside <= 0.86, (column, inside)


def test_outcomes_not_known_when_the_history_ends_are_not_used(small_result) -> None:
    train = small_result.train
    known = known_outcomes(train, small_result.model.spec)
    days = (train["launch_day"].max() - train["launch_day"]).dt.days.to_numpy()
    for j, (column, horizon) in enumerate(small_result.model.spec.horizons()):
        assert np.isnan(known[days < horizon, j]).all()
        np.testing.assert_array_equal(known[days >= horizon, j], train[column][days >= horizon])
