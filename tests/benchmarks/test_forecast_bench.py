"""``compass bench forecast`` on a tiny run: every number measured, the table written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.forecast import category_baseline, markdown, mean_pinball, pinball, run


def test_pinball() -> None:
    y = np.array([1.0, 2.0, 3.0])
    assert pinball(y, np.full(3, 2.0), 0.5) == pytest.approx(1 / 3)  # |y - q| / 2
    assert pinball(y, np.full(3, 3.0), 0.1) == pytest.approx((0.9 * 2 + 0.9 * 1) / 3)
    q = {k: np.full(3, 2.0) for k in ("p10", "p50", "p90")}
    assert mean_pinball(y, q, log=False) == pytest.approx(1 / 3)  # 0.1 and 0.9 average to 0.5


def test_bench_forecast_on_a_tiny_run(fast_config) -> None:
    result = json.loads(json.dumps(run(3000, 5, config=fast_config)))  # as the JSON file holds it
    assert result["command"] == "compass bench forecast"
    assert list(result["months"]) == ["1", "3", "6", "12"]
    for k, row in result["months"].items():
        assert row["column"] == f"gmv_{30 * int(k)}d" and row["n"] == result["setup"]["test"]
        assert 0 <= row["below_p10"] <= 1 - row["coverage_80"] and row["mdape_p50"] > 0
        p = row["pinball_log"]
        assert row["pinball_vs_exact"] == pytest.approx(p["model"] / p["exact"])
        assert row["pinball_vs_baseline"] == pytest.approx(p["model"] / p["baseline"])
        assert 0.7 < row["exact_coverage_80"] < 0.9  # the exact quantiles hold what they say
    assert set(result["targets"]) == {
        "coverage_77_83_every_month",
        "pinball_within_10pct_of_exact_every_month",
        "pinball_beats_baseline_every_month",
    }
    assert result["seconds"]["fit_curve"]["cpu"] > 0
    table = markdown(result)
    assert "| 12 | " in table and "Targets:" in table


def test_the_baseline_is_each_category_past(small_result) -> None:
    train, test, spec = small_result.train, small_result.test.head(50), small_result.model.spec
    base = category_baseline(train, test, spec)
    j = [c for c, _ in spec.horizons()].index("gmv_90d")
    first = test["category"].iloc[0]
    past = train.loc[train["category"] == first]
    days = (train["launch_day"].max() - past["launch_day"]).dt.days
    known = past.loc[days >= 90, "gmv_90d"]  # known when the history ends
    assert base["p50"][0, j] == pytest.approx(np.quantile(known, 0.5))
    assert (base["p10"] <= base["p50"]).all() and (base["p50"] <= base["p90"]).all()
