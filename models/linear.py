"""The linear part of the blended hit model: a logistic regression on the model's own engineered
features, scoring side only (fitting and selection live in ``training.blend``), JSON state.

Preprocessing is per feature, so the linear log-odds split exactly into per-feature terms:

* categorical (codes from ``FeatureBuilder``): one-hot of the levels seen often enough in
  training, plus one "other" column (rare, unseen and missing values);
* numeric: clipped to the range training saw (``lo``, ``hi``: beyond it a feature answers as
  at its edge, where the trees stop too, instead of extrapolating), signed log
  ``sign(x) log1p|x|`` (unless ``log`` is false), +-inf treated as missing, median-imputed, a
  0/1 missing indicator when the training data had missing values, standardised. A part saved
  before the ranges were recorded has none and is not clipped (it answers as it did).

The log-odds are ``intercept + design(x) @ coef``. The contribution of feature j is
``coef_j . (design_j(x) - design_j(reference))`` where the reference is the training mean of the
design, so contributions + base value sum to the log-odds (like TreeSHAP's).

Scoring never builds the design matrix: the standardising is folded into a slope and shift per
numeric feature, each categorical feature becomes one row of a lookup table (code ->
coefficient, "other" after the levels), and for one row every combination of the categorical
codes is one row of a second table (unless there are more than ``MAX_COMBINATIONS``), all
prepared once as numpy arrays, so a row costs about a dozen numpy calls whatever the number of
features (the service scores one concept at a time; in the blend, ``1 - w`` is folded into the
arrays too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# categorical levels are vocabulary indices (0, 1, ...); a larger one would make a huge table
MAX_TABLE_CODE = 1_000_000
# one-row scoring looks a combination of categorical codes up in one table this large at most
MAX_COMBINATIONS = 1 << 16


def signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A linear part's scoring arrays (see :meth:`LinearPart.prepared`)."""

    n_cat: int
    idx: np.ndarray | None  # columns of x in (categorical, numeric) order; None: x's own order
    order: np.ndarray | None  # (categorical, numeric, base) columns -> features' order, base last
    ones_cat: np.ndarray
    ones_num: np.ndarray
    unlogged: np.ndarray | None  # numeric features used without the signed log
    slope: np.ndarray
    shift: np.ndarray
    shift_sum: float
    missing: np.ndarray  # the term of a missing value (median + indicator)
    lo: np.ndarray  # the training range, signed-logged where the feature is (-inf, inf: none)
    hi: np.ndarray
    offset: np.ndarray  # first slot of each categorical feature in ``table``
    other: np.ndarray  # its "other" slot (after its levels)
    table: np.ndarray
    base: float
    base_1: np.ndarray
    # one row: every combination of the categorical codes' slots -> their terms (and sum)
    width: np.ndarray  # each categorical feature's "other" slot, counted from its first
    stride: np.ndarray
    combo: np.ndarray | None  # (combinations, categorical features), None if too many
    combo_sum: np.ndarray | None


# Scoring runs a dozen numpy calls on small arrays whatever the number of features: the
# service scores one row at a time, where each call's overhead is the cost (out arguments are
# positional: numpy parses keywords slower).
def _split(x: np.ndarray, p: Prepared) -> tuple[bool, Any, np.ndarray, np.ndarray | None]:
    """(one row?, the codes' slots in ``table`` or their row of ``combo``, the signed-log
    numbers clipped to the training range, where they are missing (+-inf, NaN; None: nowhere));
    1-d for one row."""
    one = len(x) == 1
    row = x[0] if one else x
    v = row if p.idx is None else row.take(p.idx, axis=-1)  # codes, then numbers
    m = p.n_cat
    # a code's slot is the code; NaN (an unknown category) and codes past the feature's last
    # level go to the slot after its levels, "other" (FeatureBuilder's codes are vocabulary
    # indices 0, 1, ... or NaN)
    if one and p.combo is not None:  # one row: the combination's row of ``combo``
        slots: Any = int(np.fmin(v[:m], p.width).dot(p.stride))
    else:  # the feature's offset + the slot in ``table``
        code = v[..., :m] + p.offset
        np.fmin(code, p.other, code)
        slots = code.astype(np.intp)
    raw = v[..., m:]
    num = np.abs(raw)
    np.log1p(num, num)
    # +-inf and NaN (missing) make this sum of non-negative numbers non-finite, and it cannot
    # be inf - inf: one check, and nothing else to do in the usual case (nothing missing)
    size = num.dot(p.ones_num)
    finite = math.isfinite(size) if one else bool(np.isfinite(size).all())
    np.copysign(num, raw, num)
    if p.unlogged is not None:
        num[..., p.unlogged] = raw[..., p.unlogged]
    missing = None
    if not finite:  # before the clip, which would make +-inf finite
        missing = np.isfinite(num)
        np.logical_not(missing, missing)
    # signed log is increasing: clipping its value to the signed-logged range is clipping the
    # number to the range; two calls, the cost of the bound on one row. fmin / fmax: a missing
    # value becomes a bound here, and its term is replaced below (``missing``); np.minimum's
    # positional out is deprecated, and the warning it raises cost more than the clip
    np.fmin(num, p.hi, num)
    np.fmax(num, p.lo, num)
    return one, slots, num, missing


def _numeric_terms(num: np.ndarray, p: Prepared, missing: np.ndarray | None) -> np.ndarray:
    """Clipped signed-log numbers -> their terms, in place; +-inf and NaN (``missing``) are
    missing: the median's term plus the missing indicator's coefficient."""
    num *= p.slope
    num += p.shift
    if missing is not None:
        np.putmask(num, missing, p.missing)
    return num


def _terms(x: np.ndarray, p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """(categorical terms, numeric terms), 1-d for one row."""
    _, slots, num, missing = _split(x, p)
    cat = p.combo[slots] if isinstance(slots, int) else p.table[slots]  # type: ignore[index]
    return cat, _numeric_terms(num, p, missing)


def _log_odds(x: np.ndarray, p: Prepared) -> Any:
    """Per-row sum of the terms and the base (a number for one row)."""
    _, slots, num, missing = _split(x, p)
    one_combination = isinstance(slots, int)
    cat = p.combo_sum[slots] if one_combination else p.table[slots].dot(p.ones_cat)  # type: ignore[index]
    if missing is None:  # the usual case: no per-term arithmetic
        return num.dot(p.slope) + cat + (p.base + p.shift_sum)
    return _numeric_terms(num, p, missing).dot(p.ones_num) + cat + p.base


@dataclass
class LinearPart:
    feature_names: list[str]
    # per feature: {"kind": "cat", "levels": [codes]} or
    # {"kind": "num", "log": bool, "median": m, "mean": mu, "sd": s, "indicator": bool,
    #  "lo": min, "hi": max} (the finite values training saw; absent in parts saved before)
    encoders: list[dict[str, Any]]
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0
    C: float = 1.0
    reference: list[float] = field(default_factory=list)  # training mean of each design column

    # ---- the literal design matrix (fitting, and the tests' reference) --------------------------
    def design(self, x: np.ndarray) -> np.ndarray:
        cols: list[np.ndarray] = []
        for j, enc in enumerate(self.encoders):
            col = x[:, j]
            if enc["kind"] == "cat":
                levels = np.asarray(enc["levels"], dtype=float)
                hot = col[:, None] == levels[None, :]
                cols += list(hot.T.astype(float))
                cols.append((~hot.any(axis=1)).astype(float))  # other / unseen / missing
            else:
                v = np.where(np.isfinite(col), col, np.nan)
                v = np.clip(v, *_range(enc))  # NaN stays NaN
                v = signed_log(v) if enc["log"] else v
                finite = np.isfinite(v)
                cols.append((np.where(finite, v, enc["median"]) - enc["mean"]) / enc["sd"])
                if enc["indicator"]:
                    cols.append((~finite).astype(float))
        return np.column_stack(cols) if cols else np.empty((len(x), 0))

    @property
    def owners(self) -> list[int]:
        """Per design column, the index of the feature it belongs to."""
        out: list[int] = []
        for j, enc in enumerate(self.encoders):
            if enc["kind"] == "cat":
                out += [j] * (len(enc["levels"]) + 1)
            else:
                out += [j] * (2 if enc["indicator"] else 1)
        return out

    def indicator_columns(self) -> list[bool]:
        """Per design column: is it a numeric feature's missing indicator?"""
        out: list[bool] = []
        for enc in self.encoders:
            if enc["kind"] == "cat":
                out += [False] * (len(enc["levels"]) + 1)
            else:
                out += [False, True] if enc["indicator"] else [False]
        return out

    def literal_log_odds(self, x: np.ndarray) -> np.ndarray:
        """The slow, literal path (design matrix @ coef): for tests of the fast one."""
        return self.intercept + self.design(x) @ np.asarray(self.coef)

    # ---- scoring ---------------------------------------------------------------------------------
    def contributions(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """(n, features + 1): per-feature log-odds terms in the features' order, the last column
        the base value (the reference row's log-odds); a row sums to :meth:`log_odds`. Every
        column times ``scale`` (a blend's ``1 - w``, folded into the prepared arrays)."""
        p = self.prepared(scale)
        cat, num = _terms(x, p)
        if num.ndim == 1:  # one row
            out = np.concatenate((cat, num, p.base_1))[None, :]
        else:
            out = np.concatenate((cat, num, np.full((len(x), 1), p.base)), axis=1)
        return out if p.order is None else out.take(p.order, axis=1)

    def log_odds(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``scale * (intercept + design(x) @ coef)`` per row, without building the design."""
        z = _log_odds(x, self.prepared(scale))
        return np.array([z]) if len(x) == 1 else z

    def log_odds_one(self, x: np.ndarray, scale: float = 1.0) -> float:
        """:meth:`log_odds` of a one-row ``x`` as a number (the service's path)."""
        return float(_log_odds(x, self.prepared(scale)))

    def prepared(self, scale: float = 1.0) -> Prepared:
        """Per-feature arrays for scoring, built once per ``scale`` from the JSON state: the
        standardising folded into a slope and shift per numeric feature, the one-hot
        coefficients of all categorical features laid end to end in one lookup table (code ->
        coefficient; the "other" coefficient for every code that is not a level, and in a slot
        before the first and after the last level), every term centred on the reference
        row's, everything times ``scale``."""
        cache = self.__dict__.setdefault("_prepared", {})
        p = cache.get(scale)
        if p is not None:
            return p
        coef, ref = np.asarray(self.coef, dtype=float), np.asarray(self.reference, dtype=float)
        base = self.intercept + float(coef @ ref)
        k = 0
        num_idx, unlogged, slope, shift, missing, bounds = [], [], [], [], [], []
        cat_idx, rows = [], []
        for j, enc in enumerate(self.encoders):
            if enc["kind"] == "cat":
                m = len(enc["levels"])
                codes = np.asarray(enc["levels"], dtype=float)
                if ((codes < 0) | (codes % 1 != 0) | (codes > MAX_TABLE_CODE)).any():
                    raise ValueError(f"linear part: {self.feature_names[j]} has odd level codes")
                ref_term = float(coef[k : k + m + 1] @ ref[k : k + m + 1])
                width = int(codes.max()) + 1 if m else 0
                # slot code: a code's; slot width: NaN and codes past the last level
                row = np.full(width + 1, coef[k + m])  # every code "other" unless a level
                row[codes.astype(int)] = coef[k : k + m]
                cat_idx.append(j)
                rows.append(row - ref_term)
                k += m + 1
                continue
            ind = float(coef[k + 1]) if enc["indicator"] else 0.0
            ref_term = float(coef[k] * ref[k]) + (ind * ref[k + 1] if enc["indicator"] else 0.0)
            beta = coef[k] / enc["sd"]
            num_idx.append(j)
            if not enc["log"]:
                unlogged.append(len(num_idx) - 1)
            slope.append(beta)
            shift.append(-beta * enc["mean"] - ref_term)
            missing.append(beta * (enc["median"] - enc["mean"]) + ind - ref_term)
            bounds.append(signed_log(np.array(_range(enc))) if enc["log"] else _range(enc))
            k += 2 if enc["indicator"] else 1
        sizes = np.array([len(r) for r in rows], dtype=float)
        offset = np.cumsum(np.concatenate([[0.0], sizes]))[:-1]
        slope_s = np.asarray(slope, dtype=float) * scale
        # a zero slope (a monotone bound reached) times an inf input would warn: a negligible one
        slope_s[slope_s == 0.0] = 1e-300
        rows = [r * scale for r in rows]
        n_slots = [len(r) for r in rows]
        combo = combo_sum = None
        if rows and int(np.prod(n_slots)) <= MAX_COMBINATIONS:
            grid = np.indices(n_slots).reshape(len(rows), -1)  # C order: the last code fastest
            combo = np.stack([r[g] for r, g in zip(rows, grid, strict=True)], axis=1)
            combo_sum = combo.dot(np.ones(len(rows)))
        stride = [int(np.prod(n_slots[f + 1 :])) for f in range(len(rows))]
        cols = cat_idx + num_idx  # FeatureBuilder puts the categorical codes first
        order = np.append(np.argsort(cols, kind="stable"), len(cols))
        identity = cols == list(range(len(cols)))
        p = Prepared(
            n_cat=len(cat_idx),
            idx=None if identity else np.asarray(cols, dtype=np.intp),
            order=None if identity else order,
            ones_cat=np.ones(len(cat_idx)),
            ones_num=np.ones(len(num_idx)),
            unlogged=np.asarray(unlogged, dtype=np.intp) if unlogged else None,
            slope=slope_s,
            shift=np.asarray(shift, dtype=float) * scale,
            shift_sum=float(np.sum(shift)) * scale,
            missing=np.asarray(missing, dtype=float) * scale,
            lo=np.array([b[0] for b in bounds], dtype=float),
            hi=np.array([b[1] for b in bounds], dtype=float),
            offset=offset,
            other=offset + sizes - 1.0,
            table=np.concatenate(rows) if rows else np.empty(0),
            base=base * scale,
            base_1=np.array([base * scale]),
            width=np.asarray(n_slots, dtype=float) - 1.0,
            stride=np.asarray(stride, dtype=float),
            combo=combo,
            combo_sum=combo_sum,
        )
        cache[scale] = p
        return p

    # ---- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_names": self.feature_names,
            "encoders": self.encoders,
            "coef": self.coef,
            "intercept": self.intercept,
            "C": self.C,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearPart:
        part = cls(
            list(d["feature_names"]),
            list(d["encoders"]),
            [float(v) for v in d["coef"]],
            float(d["intercept"]),
            float(d["C"]),
            [float(v) for v in d["reference"]],
        )
        if len(part.coef) != len(part.owners) or len(part.reference) != len(part.coef):
            raise ValueError("linear part: coefficients do not match its encoders")
        for name, enc in zip(part.feature_names, part.encoders, strict=True):
            lo, hi = _range(enc)
            if not lo <= hi:
                raise ValueError(f"linear part: {name} has the range [{lo}, {hi}]")
        return part


def _range(encoder: dict[str, Any]) -> tuple[float, float]:
    """A numeric feature's training range; unbounded for a part saved before it was kept."""
    return float(encoder.get("lo", -math.inf)), float(encoder.get("hi", math.inf))
