"""The simulator's p_hit_bayes is the Bayes limit: calibrated, and better than launch features."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.domain import BRAND_TIERS, CATEGORIES, SEGMENTS
from features.simulator import (
    CURVE_COLUMNS,
    NO_DRIFT,
    OBSERVABLE_COLUMNS,
    Drift,
    bayes_hit_probability,
    cumulative_gmv_quantiles,
    simulate,
)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return simulate(60_000, 3)


def test_seeded_and_sorted() -> None:
    a, b = simulate(500, 1), simulate(500, 1)
    pd.testing.assert_frame_equal(a, b)
    assert a["launch_date"].is_monotonic_increasing
    assert not simulate(500, 2)["price"].equals(a["price"])


def test_domain_coverage(big: pd.DataFrame) -> None:
    assert set(big["category"]) == set(CATEGORIES) and len(CATEGORIES) >= 8
    assert set(big["target_segment"]) == set(SEGMENTS) and len(SEGMENTS) == 8
    assert set(big["brand_tier"]) == set(BRAND_TIERS)
    assert 0.08 <= big["hit"].mean() <= 0.15
    untested = (big["test_samples_sent"] == 0).mean()
    assert 0.3 < untested < 0.7  # many concepts have no test yet
    assert (big["test_positive"] <= big["test_trials"]).all()
    assert (big["interested"] <= big["reach"]).all()
    rates = big.groupby("category")["hit"].mean()
    assert rates.max() - rates.min() > 0.03  # categories differ in base hit rate


def test_mean_probability_matches_hit_rate(big: pd.DataFrame) -> None:
    p, y = big["p_hit_bayes"].to_numpy(), big["hit"].to_numpy()
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(p.mean() - y.mean()) < 4 * se


def test_binned_probability_matches_observed_rate(big: pd.DataFrame) -> None:
    p, y = big["p_hit_bayes"].to_numpy(), big["hit"].to_numpy()
    order = np.argsort(p)
    for chunk in np.array_split(order, 10):
        pred, obs = p[chunk].mean(), y[chunk].mean()
        se = np.sqrt((p[chunk] * (1 - p[chunk])).sum()) / len(chunk)
        assert abs(pred - obs) < 4 * se + 1e-3, (pred, obs)


def test_posterior_uses_only_observables(big: pd.DataFrame) -> None:
    head = big.head(200)
    recomputed = bayes_hit_probability(head[OBSERVABLE_COLUMNS])
    np.testing.assert_allclose(recomputed, head["p_hit_bayes"], rtol=1e-12)


def test_bayes_beats_launch_features_only(big: pd.DataFrame) -> None:
    x = pd.get_dummies(big[["category", "target_segment", "brand_tier"]]).astype(float)
    x["log_price"] = np.log(big["price"])
    x["log_budget"] = np.log(big["marketing_budget"])
    x["log_seeding"] = np.log1p(big["seeding_posts"])
    x["novelty"] = big["novelty"]
    half = len(big) // 2
    lr = LogisticRegression(max_iter=2000).fit(x[:half], big["hit"][:half])
    launch_only = roc_auc_score(big["hit"][half:], lr.predict_proba(x[half:])[:, 1])
    bayes = roc_auc_score(big["hit"][half:], big["p_hit_bayes"][half:])
    assert bayes > launch_only + 0.03, (bayes, launch_only)


def test_test_results_move_the_posterior() -> None:
    df = simulate(2000, 5)
    tested = df[df["test_trials"] > 50].head(50).copy()
    good, bad = tested.copy(), tested.copy()
    good["test_positive"] = good["test_trials"]
    good["test_repurchase"] = good["test_trials"] // 2
    bad["test_positive"] = 0
    bad["test_repurchase"] = 0
    assert (bayes_hit_probability(good) > bayes_hit_probability(bad)).all()


def test_future_cohort_from_a_drifted_world_keeps_bayes_exact() -> None:
    """A later cohort from a changed world: its dates, its moved inputs, and p_hit_bayes that
    is calibrated for that world (and better than the old world's formula on it)."""

    drift = Drift(segment_mix={"gen_z": 4.0}, price_inflation=1.3, base_rates={"skincare": 0.3})
    assert drift.drifted_fields() == ["target_segment", "price"]
    before = simulate(20_000, 3)
    after = simulate(20_000, 4, start="2026-01-01", end="2026-07-01", drift=drift)
    days = after["launch_date"].to_numpy().astype("datetime64[D]")
    assert days.min() >= np.datetime64("2026-01-01") and days.max() < np.datetime64("2026-07-01")
    assert not set(after["concept_id"]) & set(before["concept_id"])
    share = lambda df: (df["target_segment"] == "gen_z").mean()  # noqa: E731
    assert share(after) > 2 * share(before)
    ratio = (
        after.groupby("category")["price"].median() / before.groupby("category")["price"].median()
    )
    assert ratio.between(1.2, 1.4).all(), ratio
    skincare = after[after["category"] == "skincare"]
    assert abs(skincare["hit"].mean() - 0.3) < 0.04
    # exact for the drifted world: calibrated on it, and the undrifted formula is worse there
    y, p = after["hit"].to_numpy(), after["p_hit_bayes"].to_numpy()
    assert abs(p.mean() - y.mean()) < 0.01
    stale = bayes_hit_probability(after[OBSERVABLE_COLUMNS])

    def logloss(q: np.ndarray) -> float:
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))

    assert logloss(p) < logloss(stale) - 0.005
    # no drift: the later cohort is the same world
    same = simulate(2000, 5, start="2026-01-01", end="2026-07-01")
    np.testing.assert_allclose(same["p_hit_bayes"], bayes_hit_probability(same))


@pytest.mark.parametrize(
    "drift", [NO_DRIFT, Drift(segment_mix={"gen_z": 3.0}, price_inflation=1.3)]
)
def test_bayes_in_chunks_equals_all_rows_at_once(drift: Drift) -> None:
    # chunking bounds memory; it must not move a single bit of any row's posterior
    df = simulate(4_000, 13, drift=drift)[OBSERVABLE_COLUMNS]
    whole = bayes_hit_probability(df, drift, chunk_rows=len(df))
    for chunk_rows in (7, 333, 1_000, 3_999):
        np.testing.assert_array_equal(bayes_hit_probability(df, drift, chunk_rows), whole)


# simulate(300, 5) as it was before the GMV curve existed (commit ee8df4d): its content hash
BEFORE_THE_CURVE = "691f933a8aee37a89d2cb44fb0ef88aba9b4769bee84d36adcef6d44b94f4055"


def test_the_curve_leaves_every_other_column_as_it_was() -> None:
    df = simulate(300, 5)
    before = df.drop(columns=[c for c in CURVE_COLUMNS if c != "gmv_90d"])
    digest = pd.util.hash_pandas_object(before, index=False).to_numpy().tobytes()
    assert hashlib.sha256(digest).hexdigest() == BEFORE_THE_CURVE


def test_the_curve_ramps_decays_and_peaks(big: pd.DataFrame) -> None:
    curve = big[CURVE_COLUMNS].to_numpy()
    assert (np.diff(curve, axis=1) >= 0).all()  # cumulative
    assert CURVE_COLUMNS[2] == "gmv_90d"  # month 3 is the first 90 days
    monthly = np.diff(curve, axis=1, prepend=0.0)
    # hits sell on, misses fade: the year over the first quarter
    year = curve[:, -1] / curve[:, 2]
    assert np.median(year[big["hit"] == 1]) > np.median(year[big["hit"] == 0]) + 1.0
    # the ramp: month 2 outsells month 1 for most launches (not all: a festival in month 1, or
    # the fastest decay)
    assert (monthly[:, 1] > monthly[:, 0]).mean() > 0.65
    # Double 11: every launch of late October sells more in month 1 (holding 11-11) than in 2
    day = big["launch_date"].dt.strftime("%m-%d")
    october = day.between("10-14", "10-31").to_numpy()
    assert (monthly[october, 0] > monthly[october, 1]).all()
    # while late-August launches (no festival in either month) mostly ramp up into month 2
    august = day.between("08-14", "08-31").to_numpy()
    assert (monthly[august, 0] < monthly[august, 1]).mean() > 0.75


def test_exact_quantiles_hold_what_they_say() -> None:
    """The simulator's stated distribution is the one it drew from: for launches it never used
    to fit anything, the share below each exact quantile is that quantile's level."""
    df = simulate(1500, 21)
    months = [1, 6, 12]
    q = cumulative_gmv_quantiles(df[OBSERVABLE_COLUMNS], months)
    assert q.shape == (1500, 3, 3) and (np.diff(q, axis=2) > 0).all()  # P10 < P50 < P90
    assert (np.diff(q, axis=1) >= 0).all()  # and each grows with the month
    for i, k in enumerate(months):
        y = df[CURVE_COLUMNS[k - 1]].to_numpy()
        for j, tau in enumerate((0.1, 0.5, 0.9)):
            share = (y < q[:, i, j]).mean()
            assert abs(share - tau) < 4 * np.sqrt(tau * (1 - tau) / len(y)), (k, tau, share)
