"""Fitting the interval's parts (training.uncertainty) on made-up data: complementary halves,
the evidence table, the config's bounds."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from pydantic import ValidationError

from training.train import Interval
from training.uncertainty import MIN_WINDOW, evidence_table, fit_spread


def made_up(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.0, 1.5, n)
    return z, (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)


def test_evidence_is_thin_where_hits_are_few() -> None:
    z, y = made_up()
    z[:100] = np.nan  # rows outside the folds
    table = evidence_table(z, y, 0.05)
    assert np.all(np.diff(table.z) > 0) and table.rank[0] == 0.0 and table.rank[-1] == 1.0
    assert table.window == pytest.approx(0.05, abs=1e-3)
    low, mid = table.at(np.array([-6.0, -2.0]))[1]
    assert low > 2 * mid  # a level of 0.3 % rests on far fewer hits than one of 12 %
    # the binomial se of the window's hit rate, at the median
    order = np.sort(np.flatnonzero(~np.isnan(z)), kind="stable")
    zz = z[order]
    near = np.argsort(np.abs(zz - np.median(zz)))[: int(0.05 * len(zz))]
    hits = y[order][near].sum()
    expected = np.sqrt(1 / (hits + 0.5) + 1 / (len(near) - hits + 0.5))
    assert table.at(np.array([np.median(zz)]))[1][0] == pytest.approx(expected, rel=0.1)
    small = evidence_table(z[:150], y[:150], 0.01)  # never fewer than MIN_WINDOW launches
    assert small.window == pytest.approx(MIN_WINDOW / np.isfinite(z[:150]).sum())


def test_the_evidence_sides_are_the_jeffreys_interval() -> None:
    """Each side is the log-odds distance from the window's rate to its Jeffreys bound, over
    the normal quantile: with few hits the lower side is far the longer, with many the two
    sides close in on the binomial se."""
    from scipy.special import logit
    from scipy.stats import beta, norm

    z, y = made_up(20_000)
    table = evidence_table(z, y, 0.03, level=0.8)
    low, high = table.sides(np.array([-7.0, 0.0]))
    se = table.at(np.array([-7.0]))[1][0]
    assert low[0] > se > high[0] and low[0] > 1.3 * high[0]  # few hits: it could be far lower
    assert low[1] == pytest.approx(high[1], rel=0.15)
    assert low[1] == pytest.approx(table.at(np.array([0.0]))[1][0], rel=0.15)
    # one point by hand: the window around the median of the log-odds
    order = np.argsort(z, kind="stable")
    m = int(round(0.03 * len(z)))
    mid = (len(z) - 1) // 2
    start = mid - m // 2
    hits = y[order][start : start + m].sum()
    rate = logit((hits + 0.5) / (m + 1))
    bound = beta.ppf(0.1, hits + 0.5, m - hits + 0.5)
    at = np.interp(0.5, table.rank, table.lower)
    assert at == pytest.approx((rate - logit(bound)) / norm.ppf(0.9), rel=0.02)


def test_members_are_refits_on_complementary_halves() -> None:
    z, y = made_up(1001)
    x = z[:, None]
    seen: list[tuple[np.ndarray, int]] = []

    def member(rows: np.ndarray, seed: int) -> tuple[lgb.Booster, None]:
        seen.append((rows, seed))
        data = lgb.Dataset(x[rows], y[rows], params={"verbose": -1})
        return lgb.train({"objective": "binary", "verbose": -1, "seed": seed}, data, 3), None

    spread = fit_spread(y, z, member, 1.0, 5, 0.8, 0.05, 100_000)
    assert len(spread.boosters) == 5 and spread.gap_weight == 0.0
    (a, _), (b, _) = seen[0], seen[1]
    assert len(a) == len(b) == 500 and not set(a) & set(b)  # complementary halves
    assert len({s for _, s in seen}) == 5  # each its own seed
    assert spread.member_rescale == pytest.approx(np.sqrt(500 / 501)) and spread.scale == 1.0
    capped = fit_spread(y, z, member, 0.5, 2, 0.8, 0.05, 200, scale=1.5, pair_scale=1.2)
    assert capped.report["rows_per_member"] == 200
    # the half-sampling rescale is the members' alone; the config's scales are the whole sd's
    assert capped.member_rescale == pytest.approx(np.sqrt(200 / 801))
    assert (capped.scale, capped.pair_scale) == (1.5, 1.2)
    assert capped.gap_weight == pytest.approx(0.5)
    rows = np.array([[-4.0], [-1.0]])
    sure = capped.assess(rows, rows[:, 0], np.zeros(2))
    members = sure.members.var(axis=0, ddof=1) * capped.member_rescale**2
    assert sure.sd == pytest.approx(1.5 * np.sqrt(members + sure.evidence**2))


def test_the_config_refuses_one_member() -> None:
    assert Interval(members=0).members == 0
    with pytest.raises(ValidationError, match="at least 2"):
        Interval(members=1)
