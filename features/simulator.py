"""Seeded launch-history simulator: the embedded default data source.

Generative story (one latent per concept, so the Bayes posterior is a 1-D integral):

* launch features X are drawn first: date, category, target segment, brand tier, brand, price,
  novelty, marketing budget, influencer seeding posts, and the reach the budget buys;
* each concept has a latent appeal ``a ~ N(0, 1)``; its target segment sees ``u = a + affinity``;
* observations of ``u``: pre-launch interest among people reached (beta-binomial, so even huge
  reach is only moderately informative), and when a small-sample test was run, positive ratings
  among trials and repurchase intent among positives (binomial);
* outcome: ``log GMV = m(X) + BETA * u + eps``, ``eps ~ N(0, SIGMA)``; hit = GMV at or above the
  category's threshold;
* the first year: cumulative GMV at the end of each 30-day month, ``gmv_30d`` .. ``gmv_360d``
  (``gmv_90d`` is month 3), a ramp and a decay, hits decaying slowly and misses fast, and the
  months holding Double 11 and 618 selling more (see :func:`curve_shares`; drawn from a random
  stream of their own, so every other column is what it was before the curve existed).

``p_hit_bayes`` = P(hit | observable columns) is computed by quadrature over ``a``: the exact
physical limit for any model trained on these columns. :func:`cumulative_gmv_quantiles` is the
same for the GMV curve: the exact quantiles of cumulative GMV to any month, given the observable
columns, against which a forecast's pinball loss is measured.

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
from features.horizons import MONTH_DAYS, festival_months

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

# ---- the first year (see curve_shares) ----
CURVE_MONTHS = 12  # months of MONTH_DAYS (features.horizons): month 3 ends on day 90
CURVE_COLUMNS = [f"gmv_{MONTH_DAYS * k}d" for k in range(1, CURVE_MONTHS + 1)]  # cumulative GMV
RAMP = (0.55, 0.9)  # months 1 and 2 against a fully ramped month (reviews and rank build up)
DECAY_HIT, DECAY_MISS = 0.06, 0.35  # per month: hits sell on (repurchase), misses fade
# a launch's decay: DECAY_HIT or DECAY_MISS times one of these, each with probability 1/5
DECAY_LEVELS = (0.6, 0.8, 1.0, 1.25, 1.6)
PEAKS = {"double_11": 1.9, "618": 1.45}  # a month holding the festival sells this many times more
CURVE_STREAM = 0x6375727665  # the curve's own random stream (seeded with the launch seed)

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


# ---- the first year -------------------------------------------------------------------------
def curve_shares(dates: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Cumulative GMV to the end of each month over the first 90 days' GMV, for launches on
    ``dates`` (n,) decaying at ``decay`` per month (shape (n, ...)): shape (n, ..., CURVE_MONTHS).

    Month k sells in proportion to ``ramp_k x exp(-decay x (k - 1)) x peak_k``: ``ramp`` is
    :data:`RAMP` for months 1 and 2 and 1 after, ``peak_k`` the :data:`PEAKS` factor of a
    festival falling in month k (1 otherwise). Normalised so month 3's share is exactly 1."""
    decay = np.asarray(decay, dtype=float)
    ramp = np.ones(CURVE_MONTHS)
    ramp[: len(RAMP)] = RAMP
    peaks = np.array([PEAKS[name] for name in FESTIVALS])
    in_month = festival_months(dates, list(FESTIVALS.values()), CURVE_MONTHS)
    log_peak = (in_month * np.log(peaks)).sum(-1)  # (n, months)
    log_peak = log_peak.reshape(len(log_peak), *([1] * (decay.ndim - 1)), CURVE_MONTHS)
    months = np.arange(CURVE_MONTHS)
    cum = np.cumsum(np.exp(np.log(ramp) + log_peak - decay[..., None] * months), axis=-1)
    return cum / cum[..., 2:3]


def _draw_curve(
    seed: int, n: int, scale: np.ndarray, excess: np.ndarray, dates: np.ndarray
) -> dict[str, np.ndarray]:
    """The curve's columns (all but ``gmv_90d``, which ``simulate`` writes as it always did),
    from a random stream of its own: one decay level per launch, in the launches' draw order."""
    level = np.random.default_rng([seed, CURVE_STREAM]).integers(0, len(DECAY_LEVELS), n)
    decay = np.where(excess >= 0, DECAY_HIT, DECAY_MISS) * np.array(DECAY_LEVELS)[level]
    first_90_days = scale * 2_000 * np.exp(excess + 2.0)
    cum = first_90_days[:, None] * curve_shares(dates, decay)
    return {c: np.round(cum[:, k], 0) for k, c in enumerate(CURVE_COLUMNS) if c != "gmv_90d"}


def cumulative_gmv_quantiles(
    df: pd.DataFrame,
    months: list[int],
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    drift: Drift = NO_DRIFT,
    chunk_rows: int = 250,
) -> np.ndarray:
    """The exact quantiles of cumulative GMV (CNY, before rounding to whole yuan) to the end of
    each month in ``months``, given the observable columns of ``df``: shape (rows, months,
    quantiles). The best any forecast from these columns can do (its pinball loss is the limit).

    The distribution ``simulate`` drew from: appeal ``a`` from its posterior given the observable
    columns (the quadrature of :func:`bayes_hit_probability`); ``excess = excess_mean(a) + SIGMA
    x eps``, ``eps ~ N(0, 1)``; a decay level ``l``, one of :data:`DECAY_LEVELS` with probability
    1/5 each; all three independent. Cumulative GMV to month k is ``exp(log_gmv_scale + excess)
    x share_k``, ``share_k`` from :func:`curve_shares` at decay ``DECAY_HIT x l`` if excess >= 0
    (a hit), else ``DECAY_MISS x l``. Given ``a`` and ``l`` its CDF is a difference of normal
    CDFs; summed over ``a`` (the grid) and ``l`` (five terms), each quantile is solved by
    safeguarded Newton steps to 1e-9 in probability."""
    if not all(1 <= k <= CURVE_MONTHS for k in months):
        raise ValueError(f"months must be in 1..{CURVE_MONTHS}, got {months}")
    out = np.empty((len(df), len(months), len(quantiles)))
    for lo in range(0, len(df), chunk_rows):
        out[lo : lo + chunk_rows] = _curve_quantile_chunk(
            df.iloc[lo : lo + chunk_rows], months, np.asarray(quantiles, float), drift
        )
    return out


def _curve_quantile_chunk(
    df: pd.DataFrame, months: list[int], tau: np.ndarray, drift: Drift
) -> np.ndarray:
    post = _posterior(df, drift)
    n = len(df)
    levels = np.array(DECAY_LEVELS)  # equally likely
    decay = levels[:, None] * np.array([DECAY_MISS, DECAY_HIT])[None, :]  # (levels, 2)
    dates = df["launch_date"].to_numpy().astype("datetime64[D]")
    log_share = np.log(curve_shares(dates, np.broadcast_to(decay, (n, *decay.shape))))
    excess = _ExcessCdf(post)
    avg = (post.weights * post.excess_mean).sum(1)
    sd = np.sqrt((post.weights * (post.excess_mean - avg[:, None]) ** 2).sum(1) + SIGMA**2)
    miss_floor = excess(np.zeros((n, 1)))[0]  # P(excess < 0): a miss
    out = np.empty((n, len(months), len(tau)))
    for i, k in enumerate(months):
        share = log_share[..., k - 1]  # (n, levels, 2): 0 = miss, 1 = hit
        lo = (excess.lowest + share.min((1, 2)))[:, None] + 0 * tau
        hi = (excess.highest + share.max((1, 2)))[:, None] + 0 * tau
        x = (avg + share.mean((1, 2)))[:, None] + special.ndtri(tau)[None, :] * sd[:, None]
        x = np.clip(x, lo, hi)
        for _ in range(100):
            f, d = _curve_cdf(excess, miss_floor, share, x)
            err = f - tau
            if np.abs(err).max() < 1e-9:
                break
            lo, hi = np.where(err < 0, x, lo), np.where(err > 0, x, hi)
            step = x - err / np.maximum(d, 1e-300)
            x = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        out[:, i, :] = np.exp(x + post.log_gmv_scale[:, None])
    return out


def _curve_cdf(
    excess: _ExcessCdf, miss_floor: np.ndarray, share: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P(log C_k <= x) and its density, x: log GMV over the category scale (n, Q); ``share``:
    log share_k per decay level and miss / hit (n, levels, 2). The mean over levels l of
    P(0 <= excess <= x - hit_l) + P(excess <= min(0, x - miss_l))."""
    miss, hit = share[:, None, :, 0], share[:, None, :, 1]  # (n, 1, levels)
    xx = x[:, :, None]
    f_hit, d_hit = excess(xx - hit)
    f_miss, d_miss = excess(np.minimum(xx - miss, 0.0))
    above = xx > hit
    cdf = np.where(above, f_hit - miss_floor[:, :, None], 0.0) + f_miss
    pdf = np.where(above, d_hit, 0.0) + np.where(xx < miss, d_miss, 0.0)
    return cdf.mean(2), pdf.mean(2)


class _ExcessCdf:
    """P(excess <= y) given the observable columns: a mixture over the appeal grid of normals
    whose means step by ``BETA x grid step``. On the lattice of those steps (the grid, padded by
    more than 8 noise s.d. each side) it is one matrix product with a fixed kernel; between
    lattice points a cubic Hermite interpolant of it and its density (error ~1e-10)."""

    PAD = 160  # lattice points beyond the grid on either side: 160 x 0.04 = 6.4 > 8 SIGMA

    def __init__(self, post: _Posterior) -> None:
        self.h = BETA * (_GRID[1] - _GRID[0])  # lattice step in excess
        self.origin = post.excess_mean[:, 0] - self.PAD * self.h  # excess at lattice point 0
        cdf_kernel, pdf_kernel = _excess_kernels()
        self.cdf = post.weights @ cdf_kernel  # (n, L)
        self.pdf = post.weights @ pdf_kernel
        self.lowest = self.origin
        self.highest = self.origin + (self.cdf.shape[1] - 1) * self.h

    def __call__(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cdf, density) at ``y`` of shape (n, ...)."""
        shape = y.shape
        y = y.reshape(len(y), -1)
        u = np.clip((y - self.origin[:, None]) / self.h, 0.0, self.cdf.shape[1] - 1.0)
        j = np.minimum(np.floor(u).astype(np.int64), self.cdf.shape[1] - 2)
        t = u - j
        f0, f1 = np.take_along_axis(self.cdf, j, 1), np.take_along_axis(self.cdf, j + 1, 1)
        d0 = np.take_along_axis(self.pdf, j, 1) * self.h
        d1 = np.take_along_axis(self.pdf, j + 1, 1) * self.h
        t2, t3 = t * t, t * t * t
        value = (2 * t3 - 3 * t2 + 1) * f0 + (t3 - 2 * t2 + t) * d0
        value += (-2 * t3 + 3 * t2) * f1 + (t3 - t2) * d1
        slope = (6 * t2 - 6 * t) * f0 + (3 * t2 - 4 * t + 1) * d0
        slope += (-6 * t2 + 6 * t) * f1 + (3 * t2 - 2 * t) * d1
        return value.reshape(shape), (slope / self.h).reshape(shape)


@functools.cache
def _excess_kernels() -> tuple[np.ndarray, np.ndarray]:
    """(grid, lattice) matrices: the normal CDF and density of the noise at each lattice point
    for a mean at each grid point."""
    h = BETA * (_GRID[1] - _GRID[0])
    lattice = np.arange(len(_GRID) + 2 * _ExcessCdf.PAD) - _ExcessCdf.PAD
    z = (lattice[None, :] - np.arange(len(_GRID))[:, None]) * h / SIGMA
    return special.ndtr(z), _phi(z) / SIGMA


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


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
    curve = _draw_curve(seed, n, scale, excess, f["dates"])
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
        | curve
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


@dataclass(frozen=True)
class _Posterior:
    """What the observable columns of a block of rows say about each row's latent appeal: the
    quadrature weights over ``_GRID`` (rows x grid, each row summing to 1) and the row's
    expected log-GMV excess over its category threshold at each grid point (before noise)."""

    weights: np.ndarray
    excess_mean: np.ndarray
    log_gmv_scale: np.ndarray  # log GMV (CNY) at excess 0: log(category scale x 2000) + 2


def _posterior(df: pd.DataFrame, drift: Drift) -> _Posterior:
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
    # GMV is the category's (drifted) price scale x units (see simulate)
    gmv_scale = np.log(_price_scale(cat, drift) * 2_000) + 2.0
    return _Posterior(w, m[:, None] + BETA * u - threshold[:, None], gmv_scale)


def _bayes_chunk(df: pd.DataFrame, drift: Drift) -> np.ndarray:
    post = _posterior(df, drift)
    p_hit_given_a = special.ndtr(post.excess_mean / SIGMA)
    return (post.weights * p_hit_given_a).sum(1)


def _log_expit(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)
