"""Seeded launch-history simulator: the embedded default data source.

Generative story (one latent per concept, so the Bayes posterior is a 1-D integral):

* launch features X are drawn first: date, category, target segment, brand tier, brand, price,
  novelty, marketing budget, influencer seeding posts, and the reach the budget buys;
* each concept has a latent appeal ``a ~ N(0, 1)``; its target segment sees ``u = a + affinity``;
* observations of ``u``: pre-launch interest among people reached (beta-binomial, so even huge
  reach is only moderately informative), and when a small-sample test was run, positive ratings
  among trials and repurchase intent among positives (binomial);
* outcome: ``log GMV = m(X) + BETA * u + eps``, ``eps ~ N(0, SIGMA)``; hit = GMV at or above the
  category's threshold.

``p_hit_bayes`` = P(hit | observable columns) is computed by quadrature over ``a``: the exact
physical limit for any model trained on these columns.

Future cohorts (``simulate(..., start=, end=, drift=)``) may come from a changed world
(:class:`Drift`: the segments teams target, price inflation, a category's hit rate); their
``p_hit_bayes`` is exact for that world, so a model's decay and its recovery after retraining
are measured against the right limit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from features.domain import AFFINITY, BRAND_TIERS, CATEGORIES, FESTIVALS, SEGMENTS

BETA = 0.8  # log-GMV per unit of appeal
SIGMA = 0.75  # residual log-GMV noise, unknowable before launch
INTEREST_CONCENTRATION = 60.0  # beta-binomial concentration of interest rates
TRIAL_RATE = 0.72  # share of sent samples actually tried (uninformative about appeal)
START, END = np.datetime64("2022-01-01"), np.datetime64("2026-01-01")
N_BRANDS = 1500
_GRID = np.linspace(-6.5, 6.5, 261)  # quadrature grid over the latent appeal a
# rows per block of the quadrature: a dozen (rows x grid) float arrays of ~20 MB each, where all
# rows at once took ~23 GB at a million launches
BAYES_CHUNK_ROWS = 10_000

CATEGORY_NAMES = list(CATEGORIES)
SEGMENT_NAMES = list(SEGMENTS)
TIER_NAMES = list(BRAND_TIERS)

OBSERVABLE_COLUMNS = [
    "concept_id",
    "launch_date",
    "category",
    "target_segment",
    "brand_tier",
    "brand",
    "price",
    "novelty",
    "marketing_budget",
    "seeding_posts",
    "reach",
    "interested",
    "test_samples_sent",
    "test_trials",
    "test_positive",
    "test_repurchase",
]


def _logit_interest(u: np.ndarray, novelty: np.ndarray) -> np.ndarray:
    return -3.0 + 0.45 * u + 0.5 * novelty


@dataclass(frozen=True)
class Drift:
    """A changed world. ``segment_mix``: segment -> factor on how often teams target it;
    ``price_inflation``: every price and the price consumers expect, times this (the model sees
    dearer launches that sell the same); ``base_rates``: category -> its new hit rate."""

    segment_mix: dict[str, float] = field(default_factory=dict)
    price_inflation: float = 1.0
    base_rates: dict[str, float] = field(default_factory=dict)

    def drifted_fields(self) -> list[str]:
        """The input fields whose distribution this drift moves."""
        return (["target_segment"] if self.segment_mix else []) + (
            ["price"] if self.price_inflation != 1.0 else []
        )

    def thresholds(self) -> np.ndarray:
        rates = tuple(self.base_rates.get(c, rate) for c, (_, rate) in CATEGORIES.items())
        return category_thresholds(rates)


NO_DRIFT = Drift()


def _price_scale(cat: np.ndarray, drift: Drift) -> np.ndarray:
    """The price consumers expect in a category (the world's, inflated with its prices)."""
    return np.array([v[0] for v in CATEGORIES.values()])[cat] * drift.price_inflation


def _logit_positive(u: np.ndarray, segment_idx: np.ndarray, price_ratio: np.ndarray) -> np.ndarray:
    sensitivity = np.array([v[0] for v in SEGMENTS.values()])[segment_idx]
    return 0.1 + 1.0 * u - 0.6 * sensitivity * np.log(price_ratio)


def _logit_repurchase(u: np.ndarray) -> np.ndarray:
    return -1.2 + 0.7 * u


def festival_lift(dates: np.ndarray) -> np.ndarray:
    """Log-GMV lift of launching in the 45 days before a festival, slump in the 20 days after."""
    amplitude = {"double_11": 0.4, "618": 0.25}
    days = dates.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(int) + 1970
    lift = np.zeros(len(days))
    for name, (month, day) in FESTIVALS.items():
        for dy in (-1, 0, 1):
            uniq, inverse = np.unique(years + dy, return_inverse=True)
            fest = np.array(
                [np.datetime64(f"{y:04d}-{month:02d}-{day:02d}") for y in uniq],
                dtype="datetime64[D]",
            )[inverse]
            before = (fest - days).astype(int)
            lift += np.where((before >= 0) & (before < 45), amplitude[name] * (1 - before / 45), 0)
            lift += np.where((before < 0) & (before >= -20), -0.15, 0.0)
    return lift


def _mean_log_gmv(
    cat: np.ndarray,
    seg: np.ndarray,
    tier: np.ndarray,
    price: np.ndarray,
    novelty: np.ndarray,
    budget: np.ndarray,
    seeding: np.ndarray,
    dates: np.ndarray,
    drift: Drift = NO_DRIFT,
) -> np.ndarray:
    """m(X): expected log GMV (up to a per-category constant) before appeal and noise."""
    scale = _price_scale(cat, drift)
    sens = np.array([v[0] for v in SEGMENTS.values()])[seg]
    size = np.array([v[1] for v in SEGMENTS.values()])[seg]
    tier_eff = np.array([v[2] for v in BRAND_TIERS.values()])[tier]
    return (
        tier_eff
        + size
        + 0.35 * np.log(budget / 500_000.0)
        + 0.12 * np.log1p(seeding)
        + festival_lift(dates)
        + 0.6 * (novelty - 0.4)
        - 0.6 * sens * np.log(price / scale)
    )


@functools.cache
def _reference_log_gmv() -> tuple[np.ndarray, np.ndarray]:
    """(category, log GMV) of a fixed-seed reference draw of the undrifted world."""
    rng = np.random.default_rng(12345)
    feats = _draw_launch_features(rng, 400_000, START, END, NO_DRIFT)
    m = _mean_log_gmv(*_gmv_args(feats))
    u = rng.standard_normal(len(m)) + AFFINITY[feats["cat"], feats["seg"]]
    return feats["cat"], m + BETA * u + SIGMA * rng.standard_normal(len(m))


@functools.cache
def category_thresholds(
    base_rates: tuple[float, ...] = tuple(rate for _, rate in CATEGORIES.values()),
) -> np.ndarray:
    """Per-category log-GMV hit threshold (relative to m), fixed so each category's expected
    hit rate equals its base rate (the configured ones by default). Deterministic."""
    cat, log_gmv = _reference_log_gmv()
    return np.array(
        [np.quantile(log_gmv[cat == i], 1.0 - rate) for i, rate in enumerate(base_rates)]
    )


def _gmv_args(f: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (
        f["cat"],
        f["seg"],
        f["tier"],
        f["price"],
        f["novelty"],
        f["budget"],
        f["seeding"],
        f["dates"],
    )


def _draw_launch_features(
    rng: np.random.Generator, n: int, start: np.datetime64, end: np.datetime64, drift: Drift
) -> dict[str, np.ndarray]:
    n_days = int((end - start).astype(int))
    dates = start + rng.integers(0, n_days, n).astype("timedelta64[D]")
    cat = rng.choice(len(CATEGORIES), n, p=_category_weights())
    # teams tend to target segments that like the category, imperfectly
    seg_logits = 1.2 * AFFINITY[cat]
    seg_p = np.exp(seg_logits) * np.array([drift.segment_mix.get(s, 1.0) for s in SEGMENTS])
    seg_p = seg_p / seg_p.sum(1, keepdims=True)
    seg = (seg_p.cumsum(1) > rng.random((n, 1))).argmax(1)
    tier = rng.choice(len(BRAND_TIERS), n, p=[0.45, 0.40, 0.15])
    scale = np.array([v[0] for v in CATEGORIES.values()])[cat]
    mult = np.array([v[0] for v in BRAND_TIERS.values()])[tier]
    price = np.round(scale * mult * np.exp(rng.normal(0, 0.35, n)) * drift.price_inflation, 1)
    novelty = np.round(rng.beta(2, 3, n), 3)
    typical_budget = np.array([v[1] for v in BRAND_TIERS.values()])[tier]
    budget = np.round(typical_budget * np.exp(rng.normal(0, 0.8, n)), -3) + 10_000
    seeding = rng.poisson(3 + 40 * budget / 1_000_000) * (rng.random(n) > 0.15)
    reach = np.round(budget / 20 * np.exp(rng.normal(0, 0.5, n)) + seeding * 400).astype(int)
    reach = np.maximum(reach, 200)
    tested_p = np.array([0.35, 0.5, 0.6])[tier]
    tested = rng.random(n) < tested_p
    sent = np.where(tested, rng.choice([100, 150, 200, 300, 400, 500], n), 0)
    brand = (tier * N_BRANDS // 3 + rng.integers(0, N_BRANDS // 3, n)).astype(int)
    return {
        "dates": dates,
        "cat": cat,
        "seg": seg,
        "tier": tier,
        "price": price,
        "novelty": novelty,
        "budget": budget,
        "seeding": seeding,
        "reach": reach,
        "sent": sent,
        "brand": brand,
    }


def _category_weights() -> np.ndarray:
    w = np.array([1.4, 1.2, 1.0, 1.3, 1.0, 1.0, 0.8, 0.9, 0.8, 1.2])
    return w / w.sum()


def simulate(
    n: int,
    seed: int,
    start: str | np.datetime64 = START,
    end: str | np.datetime64 = END,
    drift: Drift = NO_DRIFT,
) -> pd.DataFrame:
    """Simulate ``n`` launches between ``start`` and ``end`` (a later period: a future cohort;
    ``drift``: from a changed world), sorted by launch date, with outcomes and ``p_hit_bayes``
    (exact for that world)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    start, end = np.datetime64(start, "D"), np.datetime64(end, "D")
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    rng = np.random.default_rng(seed)
    f = _draw_launch_features(rng, n, start, end, drift)
    delta = AFFINITY[f["cat"], f["seg"]]
    a = rng.standard_normal(n)
    u = a + delta
    mu_i = special.expit(_logit_interest(u, f["novelty"]))
    interest_rate = rng.beta(mu_i * INTEREST_CONCENTRATION, (1 - mu_i) * INTEREST_CONCENTRATION)
    interested = rng.binomial(f["reach"], interest_rate)
    scale = _price_scale(f["cat"], drift)
    trials = rng.binomial(f["sent"], TRIAL_RATE)
    positive = rng.binomial(trials, special.expit(_logit_positive(u, f["seg"], f["price"] / scale)))
    repurchase = rng.binomial(positive, special.expit(_logit_repurchase(u)))
    m = _mean_log_gmv(*_gmv_args(f), drift)
    excess = m + BETA * u + SIGMA * rng.standard_normal(n) - drift.thresholds()[f["cat"]]
    df = pd.DataFrame(
        {
            "launch_date": f["dates"].astype("datetime64[ns]"),
            "category": np.array(CATEGORY_NAMES)[f["cat"]],
            "target_segment": np.array(SEGMENT_NAMES)[f["seg"]],
            "brand_tier": np.array(TIER_NAMES)[f["tier"]],
            "brand": [f"brand_{b:04d}" for b in f["brand"]],
            "price": f["price"],
            "novelty": f["novelty"],
            "marketing_budget": f["budget"],
            "seeding_posts": f["seeding"].astype(int),
            "reach": f["reach"].astype(int),
            "interested": interested.astype(int),
            "test_samples_sent": f["sent"].astype(int),
            "test_trials": trials.astype(int),
            "test_positive": positive.astype(int),
            "test_repurchase": repurchase.astype(int),
            # GMV in CNY: category scale x units; the threshold is where excess crosses 0
            "gmv_90d": np.round(scale * 2_000 * np.exp(excess + 2.0), 0),
            "hit": (excess >= 0).astype(int),
        }
    )
    df = df.sort_values("launch_date", kind="stable").reset_index(drop=True)
    prefix = f"sim-{seed}" if start == START else f"sim-{seed}-{start}"  # cohorts: own ids
    df.insert(0, "concept_id", [f"{prefix}-{i:06d}" for i in range(n)])
    df["p_hit_bayes"] = bayes_hit_probability(df, drift)
    return df


def bayes_hit_probability(
    df: pd.DataFrame, drift: Drift = NO_DRIFT, chunk_rows: int = BAYES_CHUNK_ROWS
) -> np.ndarray:
    """P(hit | observable columns) by quadrature over the latent appeal, in the world ``drift``
    describes.

    Uses only the observable columns of ``df``; this is the Bayes-optimal predictor. Rows are
    independent, so the (rows x grid) arrays are built ``chunk_rows`` at a time: memory stays
    bounded whatever ``len(df)`` is, and every row's arithmetic is the same as all at once.
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    out = np.empty(len(df))
    for lo in range(0, len(df), chunk_rows):
        out[lo : lo + chunk_rows] = _bayes_chunk(df.iloc[lo : lo + chunk_rows], drift)
    return out


def _bayes_chunk(df: pd.DataFrame, drift: Drift) -> np.ndarray:
    cat = pd.Categorical(df["category"], categories=CATEGORY_NAMES).codes
    seg = pd.Categorical(df["target_segment"], categories=SEGMENT_NAMES).codes
    tier = pd.Categorical(df["brand_tier"], categories=TIER_NAMES).codes
    if (cat < 0).any() or (seg < 0).any() or (tier < 0).any():
        raise ValueError("category, target_segment or brand_tier outside the simulator's domain")
    price = df["price"].to_numpy(float)
    novelty = df["novelty"].to_numpy(float)
    dates = df["launch_date"].to_numpy().astype("datetime64[D]")
    m = _mean_log_gmv(
        cat,
        seg,
        tier,
        price,
        novelty,
        df["marketing_budget"].to_numpy(float),
        df["seeding_posts"].to_numpy(float),
        dates,
        drift,
    )
    delta = AFFINITY[cat, seg]
    scale = _price_scale(cat, drift)
    u = _GRID[None, :] + delta[:, None]  # (n, G)

    log_post = -0.5 * _GRID[None, :] ** 2
    # interest: beta-binomial likelihood (terms constant in a dropped)
    reach = df["reach"].to_numpy(float)[:, None]
    inter = df["interested"].to_numpy(float)[:, None]
    mu = special.expit(_logit_interest(u, novelty[:, None]))
    alpha, beta = mu * INTEREST_CONCENTRATION, (1 - mu) * INTEREST_CONCENTRATION
    log_post = log_post + special.betaln(inter + alpha, reach - inter + beta)
    log_post -= special.betaln(alpha, beta)
    # small-sample test: binomial likelihoods (zero counts contribute nothing)
    trials = df["test_trials"].to_numpy(float)[:, None]
    pos = df["test_positive"].to_numpy(float)[:, None]
    rep = df["test_repurchase"].to_numpy(float)[:, None]
    lp = _logit_positive(u, seg[:, None], (price / scale)[:, None])
    log_post += pos * _log_expit(lp) + (trials - pos) * _log_expit(-lp)
    lr = _logit_repurchase(u)
    log_post += rep * _log_expit(lr) + (pos - rep) * _log_expit(-lr)

    log_post -= log_post.max(1, keepdims=True)
    w = np.exp(log_post)
    w /= w.sum(1, keepdims=True)
    threshold = drift.thresholds()[cat]
    p_hit_given_a = special.ndtr((m[:, None] + BETA * u - threshold[:, None]) / SIGMA)
    return (w * p_hit_given_a).sum(1)


def _log_expit(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)
