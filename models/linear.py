"""The linear part of the blended hit model: a logistic regression on the model's own engineered
features, scoring side only (fitting and selection live in ``training.blend``), JSON state.

Preprocessing is per feature, so the linear log-odds split exactly into per-feature terms:

* categorical (codes from ``FeatureBuilder``): one-hot of the levels seen often enough in
  training, plus one "other" column (rare, unseen and missing values);
* numeric: signed log ``sign(x) log1p|x|`` (unless ``log`` is false), +-inf treated as missing,
  median-imputed, a 0/1 missing indicator when the training data had missing values,
  standardised.

The log-odds are ``intercept + design(x) @ coef``. The contribution of feature j is
``coef_j . (design_j(x) - design_j(reference))`` where the reference is the training mean of the
design, so contributions + base value sum to the log-odds (like TreeSHAP's).

Scoring never builds the design matrix: the standardising is folded into the coefficients and
each categorical feature becomes one row of a lookup table (its code -> coefficient, "other"
at the end), all prepared once as numpy arrays, so a row costs a dozen numpy calls whatever the
number of features (the service scores one concept at a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# categorical levels are vocabulary indices (0, 1, ...); a larger one would make a huge table
MAX_TABLE_CODE = 1_000_000


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
    missing: np.ndarray  # the term of a missing value (median + indicator)
    offset: np.ndarray  # first slot of each categorical feature in ``table``
    other: np.ndarray  # its "other" slot (after its levels)
    table: np.ndarray
    base: float
    base_1: np.ndarray


def _terms(x: np.ndarray, p: Prepared) -> tuple[np.ndarray, np.ndarray, Any]:
    """(categorical terms, numeric terms, per-row sum of the numeric terms), 1-d for one row:
    a dozen numpy calls on small arrays whatever the number of features (the service scores
    one row at a time, where each call's overhead is the cost; out arguments are positional,
    numpy parses keywords slower)."""
    one = len(x) == 1
    row = x[0] if one else x
    v = row if p.idx is None else row.take(p.idx, axis=-1)  # codes, then numbers
    m = p.n_cat
    # a code's slot in the lookup table is its feature's offset + the code; NaN (an unknown
    # category) and codes past the feature's last level go to the slot after its levels,
    # "other" (FeatureBuilder's codes are vocabulary indices 0, 1, ... or NaN)
    code = v[..., :m] + p.offset
    np.fmin(code, p.other, code)
    cat = p.table[code.astype(np.intp)]
    raw = v[..., m:]
    num = np.abs(raw)
    np.log1p(num, num)
    # +-inf and NaN are missing; they make this sum of non-negative numbers non-finite (and
    # it cannot be inf - inf): one check when nothing is missing, the usual case
    size = num.dot(p.ones_num)
    np.copysign(num, raw, num)
    if p.unlogged is not None:
        num[..., p.unlogged] = raw[..., p.unlogged]
    num *= p.slope
    num += p.shift
    if not (math.isfinite(size) if one else np.isfinite(size).all()):
        missing = np.isfinite(num)
        np.logical_not(missing, missing)
        np.putmask(num, missing, p.missing)  # the median's term + the indicator's coefficient
    return cat, num, num.dot(p.ones_num)


@dataclass
class LinearPart:
    feature_names: list[str]
    # per feature: {"kind": "cat", "levels": [codes]} or
    # {"kind": "num", "log": bool, "median": m, "mean": mu, "sd": s, "indicator": bool}
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
        cat, num, _ = _terms(x, p)
        if num.ndim == 1:  # one row
            out = np.concatenate((cat, num, p.base_1))[None, :]
        else:
            out = np.concatenate((cat, num, np.full((len(x), 1), p.base)), axis=1)
        return out if p.order is None else out.take(p.order, axis=1)

    def log_odds(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``scale * (intercept + design(x) @ coef)`` per row, without building the design."""
        p = self.prepared(scale)
        cat, num, num_sum = _terms(x, p)
        z = num_sum + cat.dot(p.ones_cat) + p.base
        return np.array([z]) if num.ndim == 1 else z

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
        num_idx, unlogged, slope, shift, missing = [], [], [], [], []
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
            k += 2 if enc["indicator"] else 1
        sizes = np.array([len(r) for r in rows], dtype=float)
        offset = np.cumsum(np.concatenate([[0.0], sizes]))[:-1]
        slope_s = np.asarray(slope, dtype=float) * scale
        # a zero slope (a monotone bound reached) times an inf input would warn: a negligible one
        slope_s[slope_s == 0.0] = 1e-300
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
            missing=np.asarray(missing, dtype=float) * scale,
            offset=offset,
            other=offset + sizes - 1.0,
            table=(np.concatenate(rows) if rows else np.empty(0)) * scale,
            base=base * scale,
            base_1=np.array([base * scale]),
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
        return part
