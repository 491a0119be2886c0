"""The one feature-building path, shared by training, batch scoring and the HTTP service.

``FeatureBuilder.fit`` learns small statistics from the training history (category vocabularies,
group price medians, empirical-Bayes priors, entity track records); ``transform`` turns columns
(a mapping of name -> numpy array, no pandas needed) into the model matrix. The fitted state is
plain JSON, saved inside the model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.columns import hour_key
from features.profile import InputProfile
from features.spec import CountPair, DatasetSpec, EntityHistory, text_feature
from features.text import TextModel

Columns = Mapping[str, np.ndarray]
_MISSING = "\x00missing"
_NO_HISTORY = EntityHistory()  # the default: track record only
# concepts launch after the history ends (and a champion's features end where its training
# period does, before its out-of-time test); this long after that, trends the model never saw
# may have moved the market, so the answer says so
DATE_HORIZON_DAYS = 730
# a text most of whose n-grams training never saw (another language, a new jargon) gets a
# text score close to the intercept: the answer says so
UNSEEN_TEXT = 0.5


def as_days(values: np.ndarray) -> np.ndarray:
    """Dates (datetime64 or ISO strings) -> integer days since 1970-01-01."""
    return np.asarray(values).astype("datetime64[D]").astype(np.int64)


def _group_key(columns: Columns, group_cols: list[str], n: int) -> list[str]:
    """Per row, the values of ``group_cols`` joined with "|" (the prior's group)."""
    if not group_cols:
        return [""] * n
    parts = [np.asarray(columns[c]).astype(str).tolist() for c in group_cols]
    return ["|".join(p) for p in zip(*parts, strict=True)]


VOCABULARY_PERIODS = 5  # time periods of equal launch counts the history is cut into
VOCABULARY_LATE = 3  # the latest periods judged
VOCABULARY_GROWING = 2  # how many of them must bring values unseen before for "open"
VOCABULARY_MIN_LAUNCHES = 100  # fewer: too little history to tell; closed, as before


@dataclass(frozen=True)
class VocabularyChoice:
    """Whether a categorical input's vocabulary is open (a value training never saw is scored,
    with a warning) or closed (it is refused), where that came from (``"spec"`` or
    ``"inferred"``) and why, in words for the data report and the page."""

    open: bool
    source: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"open": self.open, "source": self.source, "why": self.why}


def infer_vocabulary(values: np.ndarray, days: np.ndarray) -> VocabularyChoice:
    """Open or closed, from the history itself (the spec's ``vocabulary`` overrides it).

    The rule: order the launches by day and cut them into :data:`VOCABULARY_PERIODS` periods of
    equal counts (cut at day boundaries). A launch of a period is a *newcomer* if its value
    appeared in no earlier period. The vocabulary is **open** if at least
    :data:`VOCABULARY_GROWING` of the :data:`VOCABULARY_LATE` latest periods bring newcomers:
    it was still growing late in the history, so launches to come will bring values unseen too
    (a site adding subcategories, new publishers). One late newcomer alone may be a one-off
    and leaves it **closed**, as does a history of fewer than
    :data:`VOCABULARY_MIN_LAUNCHES` launches (too little to tell). Missing values (and the
    loader's ``unknown`` for them) never count as newcomers."""
    values = np.asarray(values).astype(str)
    days = np.asarray(days, dtype=np.int64)
    n = len(values)
    if n < VOCABULARY_MIN_LAUNCHES:
        why = f"closed: too little history to tell ({n} launches, {VOCABULARY_MIN_LAUNCHES} needed)"
        return VocabularyChoice(False, "inferred", why)
    order = np.argsort(days, kind="stable")
    values, days = values[order], days[order]
    cuts = [int(n * k / VOCABULARY_PERIODS) for k in range(1, VOCABULARY_PERIODS)]
    cuts = [int(np.searchsorted(days, days[c], side="left")) for c in cuts]  # whole days
    bounds = [0, *cuts, n]
    seen: set[str] = set()
    newcomers: list[int] = []  # per period after the first
    for k in range(VOCABULARY_PERIODS):
        period = values[bounds[k] : bounds[k + 1]]
        if k:
            newcomers.append(int(sum(v not in seen and v not in _NOT_VALUES for v in period)))
        seen.update(period.tolist())
    late = newcomers[-VOCABULARY_LATE:]
    growing = sum(c > 0 for c in late)
    latest = bounds[-1] - bounds[-2]
    detail = (
        f"{growing} of the {VOCABULARY_LATE} latest of {VOCABULARY_PERIODS} time periods "
        f"brought values unseen before ({late[-1]} of {latest} launches in the latest)"
    )
    if growing >= VOCABULARY_GROWING:
        return VocabularyChoice(True, "inferred", f"open: {detail}")
    return VocabularyChoice(False, "inferred", f"closed: {detail}")


def choose_vocabulary(
    info_vocabulary: str | None, values: np.ndarray, days: np.ndarray
) -> VocabularyChoice:
    """The spec's word (``inputs.<col>.vocabulary``) if it says, else :func:`infer_vocabulary`."""
    if info_vocabulary is not None:
        return VocabularyChoice(
            info_vocabulary == "open", "spec", f"{info_vocabulary}: set in the spec"
        )
    return infer_vocabulary(values, days)


def pair_counts(columns: Columns, pairs: Sequence[CountPair]) -> tuple[np.ndarray, np.ndarray]:
    """(successes, trials) of each pair as floats, shape (pairs, n); missing counts are 0,
    negative successes 0. A rate pair's successes are its mean rate times its raters."""
    trials = np.array([columns[p.trials] for p in pairs], dtype=float)
    trials = np.where(np.isnan(trials), 0.0, trials)
    succ = np.array([columns[p.successes or p.rate] for p in pairs], dtype=float)  # type: ignore[index]
    for i, p in enumerate(pairs):
        if p.successes is None:
            succ[i] = succ[i] / p.rate_scale * trials[i]
    return np.fmax(succ, 0.0), trials  # fmax: NaN -> 0 as well


@dataclass
class PairPrior:
    """Beta prior per group: mean ``means[group]`` (else ``global_mean``), strength ``kappa``."""

    global_mean: float
    kappa: float
    means: dict[str, float]

    def prior_mean(self, keys: list[str]) -> np.ndarray:
        return np.array([self.means.get(k, self.global_mean) for k in keys], dtype=float)


def fit_pair_prior(succ: np.ndarray, trials: np.ndarray, keys: np.ndarray) -> PairPrior:
    """Empirical-Bayes beta prior by method of moments, group means shrunk toward the global."""
    has = trials > 0
    if not has.any():
        return PairPrior(0.5, 1.0, {})
    s, n, k = succ[has], trials[has], keys[has]
    mu = float(s.sum() / n.sum())
    rates = s / n
    mean_n = float(n.mean())
    means: dict[str, float] = {}
    uniq, inv = np.unique(k.astype(str), return_inverse=True)
    sum_s = np.bincount(inv, weights=s)
    sum_n = np.bincount(inv, weights=n)
    for i, g in enumerate(uniq):
        # shrink each group's mean toward the global one with ~20 rows' worth of trials
        means[str(g)] = float((sum_s[i] + 20 * mean_n * mu) / (sum_n[i] + 20 * mean_n))
    centre = np.array([means[str(g)] for g in k])
    observed_var = float(np.mean((rates - centre) ** 2))
    binomial_var = float(np.mean(centre * (1 - centre) / n))
    between = max(observed_var - binomial_var, 1e-6)
    kappa = float(np.clip(mu * (1 - mu) / between - 1.0, 1.0, 1e5))
    return PairPrior(mu, kappa, means)


def fit_pair_prior_of(columns: Columns, pair: CountPair) -> PairPrior:
    """The empirical-Bayes prior of one count pair on ``columns``, as ``FeatureBuilder.fit``
    fits it (the funnel's norms refit it on earlier launches only)."""
    n = len(np.asarray(columns[pair.trials]))
    (succ,), (trials,) = pair_counts(columns, [pair])
    keys = np.array(_group_key(columns, pair.prior_by, n), dtype=object)
    return fit_pair_prior(succ, trials, keys)


def pair_posterior(
    columns: Columns, pair: CountPair, prior: PairPrior
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (successes, trials, prior mean of the row's group) of one count pair; the
    shrunk rate the features use is ``(successes + kappa * mean) / (trials + kappa)``."""
    n = len(np.asarray(columns[pair.trials]))
    (succ,), (trials,) = pair_counts(columns, [pair])
    return succ, trials, prior.prior_mean(_group_key(columns, pair.prior_by, n))


@dataclass
class TrackRecord:
    """Per entity value: days on which earlier outcomes became known, cumulative hits and
    cumulative log(1 + outcome), in launch order.

    Every feature of a launch on day ``d`` uses only launches before ``d`` whose outcome was
    known before ``d`` (launch day + ``lag_days``); the shrinkage targets are the overall rates
    known before the same day, so nothing after a launch (not even the base rate) reaches it."""

    known_days: dict[str, list[int]]
    cum_hits: dict[str, list[int]]
    all_known_days: list[int]
    all_cum_hits: list[int]
    strength: float
    lag_days: int = 0
    cum_outcome: dict[str, list[float]] = field(default_factory=dict)
    all_cum_outcome: list[float] = field(default_factory=list)
    # numpy views of the lists above, built once (the serving hot path scores single rows)
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def _array(self, key: str, values: list[int] | list[float], prefix: bool) -> np.ndarray:
        arr = self._arrays.get(key)
        if arr is None:
            arr = _prefix(values) if prefix else np.asarray(values, dtype=np.int64)
            self._arrays[key] = arr
        return arr

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def features(
        self, values: np.ndarray, days: np.ndarray, history: EntityHistory | None = None
    ) -> dict[str, np.ndarray]:
        """Feature suffix -> values, in the order of ``history_suffixes(history)``."""
        history = history or _NO_HISTORY
        values = np.asarray(values).astype(str)
        days = np.asarray(days, dtype=np.int64)
        n = len(values)
        k = self.strength
        all_days = self._array("all_days", self.all_known_days, prefix=False)
        j_all = np.searchsorted(all_days, days, side="left")  # strictly earlier than d
        base = (self._array("all_hits", self.all_cum_hits, prefix=True)[j_all] + 1) / (j_all + 2)
        count, hits = np.zeros(n), np.zeros(n)
        age = np.full(n, np.nan)
        w = history.window_days or 0
        recent_launches, recent_known, recent_hits = np.zeros(n), np.zeros(n), np.zeros(n)
        out_sum = np.zeros(n)
        rows_of: dict[str, list[int]] = {}
        for i, v in enumerate(values.tolist()):
            rows_of.setdefault(v, []).append(i)
        for v, rows in rows_of.items():
            known = self.known_days.get(v)
            if known is None:
                continue
            idx = np.array(rows)
            kd, d = self._array(f"days:{v}", known, prefix=False), days[idx]
            cum = self._array(f"hits:{v}", self.cum_hits[v], prefix=True)
            j = np.searchsorted(kd, d, side="left")
            count[idx], hits[idx] = j, cum[j]
            launched = kd - self.lag_days  # launch days, sorted
            if history.age:
                first = launched[0]
                age[idx] = np.where(d > first, d - first, np.nan)
            if w:
                recent_launches[idx] = np.searchsorted(launched, d, "left") - np.searchsorted(
                    launched, d - w, "left"
                )
                j0 = np.searchsorted(kd, d - w, side="left")
                recent_known[idx], recent_hits[idx] = j - j0, cum[j] - cum[j0]
            if history.outcome:
                out_sum[idx] = self._array(f"out:{v}", self.cum_outcome[v], True)[j]
        out: dict[str, np.ndarray] = {
            "prior_launches": count,
            "hit_rate_eb": (hits + k * base) / (count + k),
        }
        if history.age:
            out["age_days"] = age
        if w:
            out["recent_launches"] = recent_launches
            out["recent_hit_rate_eb"] = (recent_hits + k * base) / (recent_known + k)
        if history.outcome:
            all_out = self._array("all_out", self.all_cum_outcome, prefix=True)[j_all]
            with np.errstate(invalid="ignore", divide="ignore"):
                base_out = np.where(j_all > 0, all_out / np.maximum(j_all, 1), np.nan)
            out["outcome_mean_eb"] = (out_sum + k * base_out) / (count + k)
        return out


def history_suffixes(history: EntityHistory | None) -> list[str]:
    """Names (after ``{entity}_``) of the features ``TrackRecord.features`` returns."""
    history = history or _NO_HISTORY
    out = ["prior_launches", "hit_rate_eb"]
    out += ["age_days"] if history.age else []
    out += ["recent_launches", "recent_hit_rate_eb"] if history.window_days else []
    out += ["outcome_mean_eb"] if history.outcome else []
    return out


def _prefix(cumulative: list[int] | list[float]) -> np.ndarray:
    """[0, c1, c2, ...]: the total over the first j items is ``_prefix(c)[j]``."""
    return np.concatenate([[0.0], np.asarray(cumulative, dtype=float)])


def fit_track_record(
    values: np.ndarray,
    days: np.ndarray,
    label: np.ndarray,
    lag_days: int,
    strength: float,
    outcome: np.ndarray | None = None,
) -> TrackRecord:
    values = np.asarray(values).astype(str)
    days = np.asarray(days, dtype=np.int64)
    label = np.asarray(label).astype(int)
    # log(1 + outcome): sales-like outcomes are heavy-tailed; missing outcomes count as 0
    log_out = None if outcome is None else np.log1p(np.nan_to_num(np.clip(outcome, 0, None)))
    order = np.lexsort((days, values))
    known_days: dict[str, list[int]] = {}
    cum_hits: dict[str, list[int]] = {}
    cum_outcome: dict[str, list[float]] = {}
    for i in order:
        v = values[i]
        if v in ("", "nan", "None", "unknown", _MISSING):
            continue
        kd = known_days.setdefault(v, [])
        ch = cum_hits.setdefault(v, [])
        kd.append(int(days[i]) + lag_days)
        ch.append((ch[-1] if ch else 0) + int(label[i]))
        if log_out is not None:
            co = cum_outcome.setdefault(v, [])
            co.append((co[-1] if co else 0.0) + float(log_out[i]))
    by_day = np.argsort(days, kind="stable")
    all_days = (days[by_day] + lag_days).astype(int).tolist()
    all_cum = np.cumsum(label[by_day]).astype(int).tolist()
    all_out = [] if log_out is None else np.cumsum(log_out[by_day]).tolist()
    return TrackRecord(
        known_days, cum_hits, all_days, all_cum, strength, lag_days, cum_outcome, all_out
    )


@dataclass
class FeatureBuilder:
    spec: DatasetSpec
    vocab: dict[str, list[str]] = field(default_factory=dict)
    group_medians: dict[str, dict[str, float]] = field(default_factory=dict)
    pair_priors: dict[str, PairPrior] = field(default_factory=dict)
    track_records: dict[str, TrackRecord] = field(default_factory=dict)
    # the range of each number input (numeric, count-pair and relative columns) training saw
    numeric_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    date_range: tuple[int, int] | None = None  # first and latest training launch (day numbers)
    # Recorded at fit, so that an input past what training saw is answered as at the edge
    # (models saved before have neither, and answer as they did): ``transform`` clips each
    # number input to its ``numeric_ranges``, and the date's trending features (entity track
    # records and ages, the date as a number) run between the days of ``trend_range``: the
    # first training launch (before it no track record has begun) and the latest one +
    # DATE_HORIZON_DAYS, where the date's warning starts (ages would grow on past it). The
    # month and festival distances are cyclic: bounded already, they keep any date's season.
    clip_inputs: bool = False
    trend_range: tuple[int, int] | None = None
    # what the API learns from training (features.schema): inputs that had gaps, a recent launch
    missing_inputs: list[str] = field(default_factory=list)
    example: dict[str, Any] = field(default_factory=dict)
    # the training inputs' distributions, frozen for drift monitoring (features.profile)
    input_profile: InputProfile | None = None
    # text column -> its text model (features.text), fitted by training.text
    text_models: dict[str, TextModel] = field(default_factory=dict)
    # categorical column -> open or closed, and why (None in models saved before: the spec's)
    vocabularies: dict[str, VocabularyChoice] = field(default_factory=dict)

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        columns: Columns,
        label: np.ndarray,
        spec: DatasetSpec,
        outcome: np.ndarray | None = None,
        text_models: Mapping[str, TextModel] | None = None,
    ) -> FeatureBuilder:
        """Learn the feature state from the training history. ``outcome`` (the spec's
        ``outcome_column``) is needed only by entity histories with ``outcome: true``;
        ``text_models`` (one per text column, fitted on the same history by
        ``training.text``) only by a spec with ``text``."""
        n = len(label)
        if outcome is None and any(h.outcome for h in spec.entity_history.values()):
            raise ValueError(
                f"spec {spec.name!r} asks for entity outcome histories: pass the "
                f"{spec.outcome_column!r} column as outcome"
            )
        missing_text = [c for c in spec.text_columns() if c not in (text_models or {})]
        if missing_text:
            raise ValueError(
                f"spec {spec.name!r} has text columns without a text model: "
                f"{', '.join(missing_text)} (training.text fits them)"
            )
        fb = cls(spec, text_models=dict(text_models or {}))
        days = as_days(columns[spec.date_column])
        for col in spec.categorical:
            values = np.asarray(columns[col]).astype(str)
            fb.vocab[col] = sorted(set(values.tolist()) - {"nan", "None"})
            info = spec.inputs.get(col)
            fb.vocabularies[col] = choose_vocabulary(info and info.vocabulary, values, days)
        pre_test = set(spec.pre_test_columns())
        for col in _number_inputs(spec):
            x = np.asarray(columns[col], dtype=float)
            finite = x[np.isfinite(x)]
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
            if col in pre_test:  # 0 = no test: the pre-test model's input, in range
                lo, hi = min(lo, 0.0), max(hi, 0.0)
            fb.numeric_ranges[col] = (lo, hi)
        fb.clip_inputs = True
        for col, group in spec.relative.items():
            x = np.asarray(columns[col], dtype=float)
            g = np.asarray(columns[group]).astype(str)
            fb.group_medians[col] = {
                k: float(np.nanmedian(x[g == k]))
                for k in np.unique(g)
                if np.isfinite(x[g == k]).any()
            }
            fb.group_medians[col][_MISSING] = float(np.nanmedian(x))
        for pair in spec.count_pairs:
            (succ,), (trials,) = pair_counts(columns, [pair])
            keys = np.array(_group_key(columns, pair.prior_by, n), dtype=object)
            fb.pair_priors[pair.name] = fit_pair_prior(succ, trials, keys)
        if len(days):
            fb.date_range = (int(days.min()), int(days.max()))
            fb.trend_range = (fb.date_range[0], fb.date_range[1] + DATE_HORIZON_DAYS)
        fb.missing_inputs, fb.example = _seen_inputs(columns, spec, days)
        fb.input_profile = InputProfile.fit(columns, spec)
        for col in spec.entities:
            fb.track_records[col] = fit_track_record(
                np.asarray(columns[col]).astype(str),
                days,
                np.asarray(label),
                spec.track_record_lag_days,
                spec.track_record_strength,
                outcome if col in spec.entity_history else None,
            )
        return fb

    # ---- transforming ------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return [name for name, _ in self._layout()]

    @property
    def feature_sources(self) -> dict[str, str]:
        """Feature -> the input field a person typed (derived features fold into their source)."""
        return dict(self._layout())

    def _layout(self) -> list[tuple[str, str]]:
        s = self.spec
        out = [(c, c) for c in s.categorical] + [(c, c) for c in s.numeric]
        out += [(f"{c}_vs_{g}_median", c) for c, g in s.relative.items()]
        out += [("month", s.date_column)] if not s.date_is_year else []
        out += [(f"days_to_{m:02d}{d:02d}", s.date_column) for m, d in s.festivals]
        out += [(f"launch_{t}", s.date_column) for t in s.timing]
        for p in s.count_pairs:
            src = p.successes or p.rate
            out += [(f"{p.name}_n", p.trials), (f"{p.name}_rate_eb", src), (f"{p.name}_lift", src)]
        for e in s.entities:
            out += [(f"{e}_{x}", e) for x in history_suffixes(s.entity_history.get(e))]
        out += [(text_feature(c), c) for c in s.text_columns()]
        return out

    @property
    def categorical_features(self) -> list[str]:
        weekday = ["launch_weekday"] if "weekday" in self.spec.timing else []
        return [*self.spec.categorical, *weekday]

    @property
    def text_features(self) -> dict[str, int]:
        """Text column -> the matrix column of its text score."""
        names = self.feature_names
        return {c: names.index(text_feature(c)) for c in self.spec.text_columns()}

    def transform(self, columns: Columns) -> np.ndarray:
        """Columns -> float64 matrix (n, n_features). Unknown categories become NaN.

        Written for few rows as much as for many: the service calls it per request, so each
        family costs a handful of numpy calls whatever ``n`` is."""
        s = self.spec
        n = len(np.asarray(columns[s.date_column]))
        if self.clip_inputs:
            columns = self._clipped(columns)
        dates = np.asarray(columns[s.date_column]).astype("datetime64[D]")
        days = dates.astype(np.int64)  # the trending features' day, inside trend_range
        if self.trend_range is not None:
            first, until = self.trend_range
            # one row (the service's path) in plain numbers: two numpy calls cost more
            if n != 1 or not first <= int(days[0]) <= until:
                np.minimum(days, until, out=days)  # out=: positional out is deprecated
                np.maximum(days, first, out=days)
        feats: list[np.ndarray] = []
        for col, lookup in self._category_codes().items():
            values = np.asarray(columns[col]).astype(str).tolist()
            feats.append(np.array([lookup.get(v, np.nan) for v in values], dtype=float))
        for col in s.numeric:  # the date column as a number (a year) is its day number
            feats.append(
                days.astype(float)
                if col == s.date_column
                else np.asarray(columns[col], dtype=float)
            )
        for col, group in s.relative.items():
            med = self.group_medians[col]
            g = np.asarray(columns[group]).astype(str).tolist()
            ref = np.array([med.get(k, med[_MISSING]) for k in g], dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                feats.append(np.log(np.asarray(columns[col], dtype=float) / ref))
        if not s.date_is_year:
            feats.append(dates.astype("datetime64[M]").astype(np.int64) % 12 + 1.0)
        if s.festivals:
            feats += list(_days_to_next(dates, s.festivals))
        feats += self._timing(columns, days)
        if s.count_pairs:
            feats += self._pair_features(columns, n)
        for col in s.entities:
            hist = s.entity_history.get(col)
            by_name = self.track_records[col].features(np.asarray(columns[col]), days, hist)
            feats += [by_name[x] for x in history_suffixes(hist)]
        for col in s.text_columns():
            feats.append(self.text_models[col].scores(np.asarray(columns[col], dtype=object)))
        if not feats:
            return np.empty((n, 0))
        return np.ascontiguousarray(np.array(feats, dtype=float).T)

    def _clipped(self, columns: Columns) -> dict[str, np.ndarray]:
        """``columns`` with each number input clipped to its training range (NaN, a missing
        value, stays NaN): three numpy calls for them all, whatever the number of rows."""
        names, lo, hi = self._bounds()
        out = dict(columns)
        if names:
            stack = np.array([columns[c] for c in names], dtype=float)
            np.minimum(stack, hi, out=stack)
            np.maximum(stack, lo, out=stack)
            out.update(zip(names, stack, strict=True))
        return out

    def _bounds(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(number inputs but the date, their lows and highs as columns), built once: the
        service transforms one row at a time."""
        bounds = self.__dict__.get("_bounds_")
        if bounds is None:
            date = self.spec.date_column
            names = [c for c in self.numeric_ranges if c != date]
            lo = np.array([[self.numeric_ranges[c][0]] for c in names], dtype=float)
            hi = np.array([[self.numeric_ranges[c][1]] for c in names], dtype=float)
            bounds = self.__dict__["_bounds_"] = (names, lo, hi)
        return bounds

    def _timing(self, columns: Columns, days: np.ndarray) -> list[np.ndarray]:
        """The spec's ``timing`` features: weekday (Monday 0; 1970-01-01 was a Thursday) and
        hour of launch as written (``features.columns``)."""
        out = []
        for t in self.spec.timing:
            if t == "weekday":
                out.append((days + 3) % 7 + 0.0)
            else:
                out.append(np.asarray(columns[hour_key(self.spec)], dtype=float))
        return out

    def _pair_features(self, columns: Columns, n: int) -> list[np.ndarray]:
        """Per count pair: trials, shrunk rate, lift of the rate over its prior (log-odds);
        the arithmetic runs once on all pairs stacked."""
        pairs = self.spec.count_pairs
        succ, trials = pair_counts(columns, pairs)
        priors = [self.pair_priors[p.name] for p in pairs]
        keys: dict[tuple[str, ...], list[str]] = {}  # pairs often share their prior's grouping
        for p in pairs:
            if tuple(p.prior_by) not in keys:
                keys[tuple(p.prior_by)] = _group_key(columns, p.prior_by, n)
        mean = np.array(
            [pr.prior_mean(keys[tuple(p.prior_by)]) for p, pr in zip(pairs, priors, strict=True)]
        )
        kappa = np.array([[pr.kappa] for pr in priors])
        rate = (succ + kappa * mean) / (trials + kappa)
        logit_rate, logit_mean = _logit(np.array([rate, mean]))  # one call for both
        lift = logit_rate - logit_mean
        return [f for i in range(len(pairs)) for f in (trials[i], rate[i], lift[i])]

    def _category_codes(self) -> dict[str, dict[str, float]]:
        """Per categorical column, value -> code (its place in the vocabulary), built once."""
        codes = self.__dict__.get("_codes")
        if codes is None:
            codes = {
                c: {v: float(i) for i, v in enumerate(self.vocab[c])} for c in self.spec.categorical
            }
            self.__dict__["_codes"] = codes
        return codes

    def prior_mean(self, pair: str, record: Mapping[str, Any]) -> float:
        """The prior mean rate of count pair ``pair`` for a concept's group (its ``prior_by``
        values), as fitted on the training history."""
        spec_pair = next(p for p in self.spec.count_pairs if p.name == pair)
        cols = {g: np.array([record[g]]) for g in spec_pair.prior_by}
        return float(self.pair_priors[pair].prior_mean(_group_key(cols, spec_pair.prior_by, 1))[0])

    # ---- diagnostics -----------------------------------------------------------------------
    def warnings(self, columns: Columns) -> list[list[str]]:
        """Per row: human-readable notes about extrapolation and thin evidence."""
        n = len(np.asarray(columns[self.spec.date_column]))
        out: list[list[str]] = [[] for _ in range(n)]
        for col, known in self._category_codes().items():
            for i, v in enumerate(np.asarray(columns[col]).astype(str).tolist()):
                if v not in known and v not in _GAPS:
                    out[i].append(f"{col}: {v!r} never seen in training")
        for col, (lo, hi) in self.numeric_ranges.items():
            for i, x in enumerate(np.asarray(columns[col], dtype=float).tolist()):
                if x < lo or x > hi:  # False for NaN
                    out[i].append(f"{col}: {x:g} outside the training range [{lo:g}, {hi:g}]")
        if self.date_range is not None:
            first, latest = self.date_range
            col = self.spec.date_column
            for i, d in enumerate(as_days(columns[col]).tolist()):
                if d < first:
                    out[i].append(
                        f"{col}: {_iso(d)} is before the first training launch ({_iso(first)})"
                    )
                elif d > latest + DATE_HORIZON_DAYS:
                    out[i].append(
                        f"{col}: {_iso(d)} is more than {DATE_HORIZON_DAYS} days after the "
                        f"latest training launch ({_iso(latest)}): the model has not seen "
                        "what changed since"
                    )
        for col, model in self.text_models.items():
            unseen = model.unseen_share(np.asarray(columns[col], dtype=object)).tolist()
            for i, share in enumerate(unseen):
                if share > UNSEEN_TEXT:  # False for NaN (no n-gram at all)
                    out[i].append(
                        f"{col}: {share:.0%} of its n-grams never appeared in training: its "
                        "text score says little"
                    )
        # A test is too small to say much when, for every rate it measured, the prior still
        # outweighs it. Per pair this would fire on every test: a rate that hardly varies
        # between concepts (the share of samples tried, in the simulator) has a prior of
        # thousands of pseudo-trials and carries no signal at any test size.
        tests = [p for p in self.spec.count_pairs if p.pre_test]
        sizes = [np.asarray(columns[p.trials], dtype=float).tolist() for p in tests]
        kappas = [self.pair_priors[p.name].kappa for p in tests]
        for i in range(n if tests else 0):
            measured = [(size[i], k) for size, k in zip(sizes, kappas, strict=True) if size[i] > 0]
            if measured and all(t < k for t, k in measured):
                out[i].append(
                    f"{tests[0].trials}: {sizes[0][i]:g} is a small test; for every rate it "
                    f"measured the prior (at least {min(k for _, k in measured):.0f} "
                    "pseudo-trials) still outweighs it"
                )
        return out

    # ---- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "vocab": self.vocab,
            "group_medians": self.group_medians,
            "pair_priors": {k: vars(v) for k, v in self.pair_priors.items()},
            "track_records": {k: v.to_dict() for k, v in self.track_records.items()},
            "numeric_ranges": self.numeric_ranges,
            "date_range": self.date_range,
            "clip_inputs": self.clip_inputs,
            "trend_range": self.trend_range,
            "missing_inputs": self.missing_inputs,
            "example": self.example,
            "input_profile": self.input_profile.to_dict() if self.input_profile else None,
            "text_models": {k: v.to_dict() for k, v in self.text_models.items()},
            "vocabularies": {k: v.to_dict() for k, v in self.vocabularies.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureBuilder:
        return cls(
            spec=DatasetSpec.model_validate(d["spec"]),
            vocab=d["vocab"],
            group_medians=d["group_medians"],
            pair_priors={k: PairPrior(**v) for k, v in d["pair_priors"].items()},
            track_records={k: TrackRecord(**v) for k, v in d["track_records"].items()},
            numeric_ranges={k: (v[0], v[1]) for k, v in d["numeric_ranges"].items()},
            # models saved before the date range was kept warn about no date
            date_range=tuple(d["date_range"]) if d.get("date_range") else None,  # type: ignore[arg-type]
            # models saved before the bounds were recorded answer unbounded, as they did
            clip_inputs=d.get("clip_inputs", False),
            trend_range=tuple(d["trend_range"]) if d.get("trend_range") else None,  # type: ignore[arg-type]
            missing_inputs=d.get("missing_inputs", []),
            example=d.get("example", {}),
            input_profile=InputProfile.from_dict(d["input_profile"])
            if d.get("input_profile")
            else None,
            text_models={k: TextModel.from_dict(v) for k, v in d.get("text_models", {}).items()},
            vocabularies={k: VocabularyChoice(**v) for k, v in d.get("vocabularies", {}).items()},
        )

    def vocabulary_open(self, col: str) -> bool:
        """Whether ``col`` takes values training never saw: the fitted choice, or for a model
        saved before choices were fitted, the spec's word (closed when silent, as then)."""
        choice = self.vocabularies.get(col)
        if choice is not None:
            return choice.open
        info = self.spec.inputs.get(col)
        return info is not None and info.vocabulary == "open"


def _number_inputs(spec: DatasetSpec) -> list[str]:
    """The input columns the features read as numbers: numeric, relative and count pairs'."""
    pairs = [c for p in spec.count_pairs for c in (p.successes or p.rate, p.trials)]
    return list(dict.fromkeys([*spec.numeric, *spec.relative, *pairs]))  # type: ignore[list-item]


def _seen_inputs(
    columns: Columns, spec: DatasetSpec, days: np.ndarray
) -> tuple[list[str], dict[str, Any]]:
    """(input columns with gaps in training, the latest complete training launch's inputs):
    the first makes a field optional, the second is the API's default example."""
    inputs = [c for c in spec.input_columns() if c != spec.date_column]
    gaps = {c: _gaps(columns[c]) for c in inputs}
    missing = [c for c in inputs if gaps[c].any()]
    if not len(days):
        return missing, {}
    complete = ~np.any([gaps[c] for c in inputs], axis=0) if inputs else np.ones(len(days), bool)
    rows = np.flatnonzero(complete) if complete.any() else np.arange(len(days))
    i = int(rows[np.argmax(days[rows])])
    day = int(days[i])
    example: dict[str, Any] = {
        spec.date_column: int(_iso(day)[:4]) if spec.date_is_year else _iso(day)
    }
    for c in inputs:
        if not gaps[c][i]:
            v = np.asarray(columns[c])[i]
            example[c] = v.item() if isinstance(v, np.generic) else v
    return missing, example


def _gaps(values: Any) -> np.ndarray:
    """True where a cell is missing (None, NaN, empty)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fc":
        return ~np.isfinite(arr)
    if arr.dtype.kind in "iub":
        return np.zeros(len(arr), dtype=bool)
    return np.array([str(v) in _GAPS for v in arr.tolist()], dtype=bool)


_GAPS = frozenset({"None", "nan", "NaN", "<NA>", "NaT", ""})  # a missing cell as str() shows it
_NOT_VALUES = _GAPS | {"unknown"}  # missing, and what the loader fills a missing category with


def _iso(day: int) -> str:
    return str(np.datetime64(day, "D"))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.minimum(np.maximum(p, 1e-6), 1 - 1e-6)  # np.clip costs twice as much on few rows
    return np.log(p / (1 - p))


def _days_to_next(dates: np.ndarray, festivals: list[tuple[int, int]]) -> np.ndarray:
    """(festivals, n) integers: days from launch until the next occurrence of each
    (month, day), 0..365."""
    table = _festival_days(tuple(festivals))
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    day = dates.astype(np.int64)
    this_year, next_year = table[:, year], table[:, year + 1]
    return np.where(this_year >= day, this_year - day, next_year - day)


@functools.cache
def _festival_days(festivals: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(festivals, 10001): the day number (days since 1970-01-01) of each festival in each
    year 0..10000; a 29 February falls on 1 March in other years."""
    years = (np.arange(10001) - 1970).astype("datetime64[Y]")
    months = np.array([m - 1 for m, _ in festivals], dtype="timedelta64[M]")[:, None]
    days = np.array([d - 1 for _, d in festivals], dtype="timedelta64[D]")[:, None]
    return ((years + months).astype("datetime64[D]") + days).astype(np.int64)
