"""Fitting the interval's parts (``models.uncertainty``) on the training history alone.

* members: the recipe (``fit_member``: the same params, tree count, linear part, blend weight)
  refitted on complementary half-samples of the training launches, each half with its own
  LightGBM seed; beyond ``member_rows`` per half, a seeded sample of that many, its spread then
  rescaled by ``sqrt(m / (n - m))`` (the half-sampling identity for ``m`` of ``n`` rows; the
  members' spread only);
* the learner gap's weight ``sqrt((w^2 + (1 - w)^2) / 2)`` (0 for LightGBM alone);
* the evidence table: out-of-fold log-odds quantiles, and per quantile the binomial standard
  error (in log-odds) of the hit rate of the ``window`` share of out-of-fold launches nearest
  to it, and the two sides of that rate's Jeffreys interval at the interval's level.

Nothing here reads a Bayes probability: a real history has none. The two scales come from the
config (fitted on simulated histories by ``compass bench interval-scales``); ``compass bench
compare`` validates the result against the simulator's.
"""

from __future__ import annotations

from collections.abc import Callable

import lightgbm as lgb
import numpy as np
from scipy.special import betaincinv, logit

from models.linear import LinearPart
from models.uncertainty import Evidence, Spread, two_sided_quantile

# fit_member(rows, seed) -> the recipe's (booster, linear part) on those training rows
FitMember = Callable[[np.ndarray, int], tuple[lgb.Booster, LinearPart | None]]
EVIDENCE_POINTS = 201  # stored quantiles of the out-of-fold log-odds
MIN_WINDOW = 50  # launches in an evidence window at least


def fit_spread(
    y: np.ndarray,
    oof_logit: np.ndarray,
    fit_member: FitMember,
    blend_weight: float,
    members: int,
    level: float,
    window: float,
    member_rows: int,
    scale: float = 1.0,
    seed: int = 0,
    pair_scale: float = 1.0,
) -> Spread:
    """The interval of a model trained on ``len(y)`` launches whose out-of-fold raw log-odds
    are ``oof_logit`` (NaN outside the folds)."""
    n = len(y)
    rng = np.random.default_rng(seed)
    half = min(n // 2, member_rows)
    boosters, linears = [], []
    while len(boosters) < members:
        perm = rng.permutation(n)
        for rows in (perm[:half], perm[half : 2 * half]):  # complementary halves
            if len(boosters) < members:
                booster, linear = fit_member(np.sort(rows), seed + 1000 + len(boosters))
                boosters.append(booster)
                linears.append(linear)
    # m of n rows: the spread of m-row fits is sqrt((n - m) / m) times the full fit's
    rescale = float(np.sqrt(half / max(n - half, 1)))
    evidence = evidence_table(oof_logit, y, window, level)
    w = blend_weight
    gap_weight = float(np.sqrt((w**2 + (1 - w) ** 2) / 2)) if w < 1.0 else 0.0
    spread = Spread(
        boosters,
        linears,
        evidence,
        blend_weight=w,
        gap_weight=gap_weight,
        scale=scale,
        level=level,
        pair_scale=pair_scale,
        member_rescale=rescale,
    )
    spread.report = {
        "members": members,
        "rows_per_member": half,
        "member_rescale": round(rescale, 4),
        "gap_weight": round(gap_weight, 4),
        "evidence_window": window,
        "scale": scale,
        "pair_scale": pair_scale,
    }
    return spread


def evidence_table(
    oof_logit: np.ndarray, y: np.ndarray, window: float, level: float = 0.8
) -> Evidence:
    """Per quantile of the out-of-fold log-odds: the log-odds standard error of the hit rate of
    the out-of-fold launches nearest to it (``window`` of them, at least :data:`MIN_WINDOW`),
    ``sqrt(1 / (hits + 1/2) + 1 / (misses + 1/2))``; and per side of that rate's Jeffreys
    interval at ``level`` (the quantiles of Beta(hits + 1/2, misses + 1/2)), its log-odds
    distance from the rate over the normal quantile. A window with 1 hit in 600 has sides of
    about 1.3 and 0.6: the rate could be far lower than it is likely to be higher."""
    has = np.isfinite(oof_logit)
    order = np.argsort(oof_logit[has], kind="stable")
    z, hit = oof_logit[has][order], np.asarray(y)[has][order].astype(float)
    n = len(z)
    if n < 2:
        raise ValueError(f"{n} out-of-fold launches: too few for the interval's evidence table")
    m = min(n, max(MIN_WINDOW, int(round(window * n))))
    ranks = np.linspace(0.0, 1.0, EVIDENCE_POINTS)
    at = np.minimum((ranks * (n - 1)).round().astype(int), n - 1)
    lo = np.clip(at - m // 2, 0, n - m)
    cum = np.concatenate([[0.0], np.cumsum(hit)])
    hits = cum[lo + m] - cum[lo]
    misses = m - hits
    se = np.sqrt(1.0 / (hits + 0.5) + 1.0 / (misses + 0.5))
    tail, q = (1.0 - level) / 2, two_sided_quantile(level)
    rate = logit((hits + 0.5) / (m + 1.0))  # the Jeffreys posterior's mean
    lower = (rate - logit(betaincinv(hits + 0.5, misses + 0.5, tail))) / q
    upper = (logit(betaincinv(hits + 0.5, misses + 0.5, 1.0 - tail)) - rate) / q
    qz = z[at]
    # np.interp needs increasing points: ties (repeated log-odds) keep their first
    keep = np.concatenate([[True], np.diff(qz) > 0])
    return Evidence(
        z=qz[keep].tolist(),
        rank=ranks[keep].tolist(),
        se=se[keep].tolist(),
        window=float(m / n),
        lower=lower[keep].tolist(),
        upper=upper[keep].tolist(),
    )
