"""The training inputs' distributions, frozen with the model, to measure input drift later.

Per input field: numbers get decile bins of the training values (edges frozen), categories the
levels training saw (the most common ``MAX_LEVELS``; the rest pooled as "other"); both keep a
bin for missing values. The population stability index of recent concepts against training is
``sum((a - e) * ln(a / e))`` over the bins (shares floored at ``FLOOR`` so an empty bin stays
finite), read with the usual thresholds: below 0.1 stable, from 0.25 act. The date is left out:
launches always move forward in time.

A text field (the spec's ``text``) is profiled by its text score (decile bins, as a number) and
the share of its n-grams the text model never saw; the training reference is the latest time
fold's out-of-fold scores (``training.text``): what the served text model gives texts it did not
see, as it gives new concepts (its scores of its own training texts would be more extreme).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.spec import DatasetSpec
from features.text import TextModel

N_BINS = 10
MAX_LEVELS = 50
FLOOR = 1e-4
PSI_WATCH, PSI_ACT = 0.1, 0.25
MIN_ROWS = 100  # fewer recent concepts than this: no verdict (PSI of a handful is noise)

Level = Literal["stable", "watch", "act", "too few"]


@dataclass(frozen=True)
class FieldProfile:
    kind: Literal["number", "category", "text"]
    shares: list[float]  # per bin, the missing-value bin last
    edges: list[float] | None = None  # numbers and text scores: inner bin edges
    levels: list[str] | None = None  # categories: one bin each, then "other"
    unseen: float | None = None  # text: the mean share of n-grams outside the vocabulary

    def bins(self, values: Any) -> np.ndarray:
        """The bin of each value (the last bin: missing); a text field's values are its text
        scores."""
        if self.kind in ("number", "text"):
            x = np.asarray(values, dtype=float)
            out = np.searchsorted(np.asarray(self.edges), x, side="right")
            return np.where(np.isfinite(x), out, len(self.shares) - 1)
        levels = {v: i for i, v in enumerate(self.levels or [])}
        other, missing = len(levels), len(levels) + 1
        return _per_distinct(values, lambda v: missing if _gap(v) else levels.get(str(v), other))

    def shares_of(self, values: Any) -> np.ndarray:
        counts = np.bincount(self.bins(values), minlength=len(self.shares))
        return counts / max(counts.sum(), 1)


@dataclass(frozen=True)
class FieldDrift:
    field: str
    psi: float | None  # None: too few concepts to say; of a text field, of its text score
    n: int
    level: Level
    # a text field: the mean share of n-grams its text model never saw, recent and in training
    unseen_ngrams: float | None = None
    unseen_ngrams_training: float | None = None


@dataclass(frozen=True)
class InputProfile:
    fields: dict[str, FieldProfile]

    @classmethod
    def fit(cls, columns: dict[str, Any], spec: DatasetSpec) -> InputProfile:
        fields = {}
        for col in spec.input_columns():
            if col == spec.date_column or col in spec.text_columns():  # see with_text
                continue
            values = np.asarray(columns[col])
            if col in spec.categorical or col in spec.entities or values.dtype.kind in "OUS":
                fields[col] = _category_profile(values)
            else:
                fields[col] = _number_profile(values.astype(float))
        return cls(fields)

    def with_text(self, reference: dict[str, tuple[np.ndarray, np.ndarray]]) -> InputProfile:
        """This profile plus one text field per ``reference`` entry: (text scores, unseen
        n-gram shares) of texts its text model did not see (see the module doc)."""
        fields = dict(self.fields)
        for name, (scores, unseen) in reference.items():
            number = _number_profile(np.asarray(scores, dtype=float))
            known = np.asarray(unseen, dtype=float)
            known = known[np.isfinite(known)]
            mean = float(known.mean()) if len(known) else None
            fields[name] = FieldProfile("text", number.shares, edges=number.edges, unseen=mean)
        return InputProfile(fields)

    def drift(
        self,
        columns: dict[str, Any],
        min_rows: int = MIN_ROWS,
        text_models: dict[str, TextModel] | None = None,
    ) -> list[FieldDrift]:
        """PSI of ``columns`` (recent concepts) against training, per field, largest first
        (``text_models``: the model's, to score its text fields)."""
        out = []
        for name, profile in self.fields.items():
            if name not in columns:
                continue
            n = len(np.asarray(columns[name]))
            if n < min_rows:
                out.append(FieldDrift(name, None, n, "too few"))
                continue
            values, unseen = columns[name], None
            if profile.kind == "text":
                if not text_models or name not in text_models:
                    continue
                texts = np.asarray(values, dtype=object)
                values = text_models[name].scores(texts)
                shares = text_models[name].unseen_share(texts)
                shares = shares[np.isfinite(shares)]
                unseen = float(shares.mean()) if len(shares) else None
            value = psi(np.asarray(profile.shares), profile.shares_of(values))
            level: Level = (
                "act" if value >= PSI_ACT else "watch" if value >= PSI_WATCH else "stable"
            )
            out.append(FieldDrift(name, value, n, level, unseen, profile.unseen))
        return sorted(out, key=lambda d: -(d.psi if d.psi is not None else -1.0))

    def to_dict(self) -> dict[str, Any]:
        return {name: asdict(p) for name, p in self.fields.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputProfile:
        return cls({name: FieldProfile(**p) for name, p in d.items()})


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of ``actual`` shares against ``expected`` (same bins)."""
    e, a = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _number_profile(x: np.ndarray) -> FieldProfile:
    finite = x[np.isfinite(x)]
    qs = np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1]) if len(finite) else []
    edges = sorted(set(np.asarray(qs, dtype=float).tolist()))  # ties (counts): fewer bins
    profile = FieldProfile("number", [0.0] * (len(edges) + 2), edges=edges)
    return FieldProfile("number", profile.shares_of(x).tolist(), edges=edges)


def _category_profile(values: np.ndarray) -> FieldProfile:
    codes, distinct = pd.factorize(pd.Series(np.asarray(values, dtype=object)))
    counts: dict[str, int] = {}
    counted = np.bincount(codes[codes >= 0], minlength=len(distinct))
    for v, n in zip(distinct, counted, strict=True):
        if not _gap(v):
            counts[str(v)] = counts.get(str(v), 0) + int(n)
    # the most common first; ties in name order
    levels = sorted(counts, key=lambda name: (-counts[name], name))[:MAX_LEVELS]
    profile = FieldProfile("category", [0.0] * (len(levels) + 2), levels=levels)
    return FieldProfile("category", profile.shares_of(values).tolist(), levels=levels)


def _per_distinct(values: Any, bin_of: Callable[[Any], int]) -> np.ndarray:
    """``bin_of`` of every value, called once per distinct value (a launch history repeats a
    few dozen levels over many rows); None and NaN are passed as None."""
    codes, distinct = pd.factorize(pd.Series(np.asarray(values, dtype=object)))
    bins = np.array([bin_of(v) for v in distinct] + [bin_of(None)], dtype=int)
    return bins[codes]  # code -1 (None, NaN): the last entry


def _gap(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not np.isfinite(v)) or str(v) in ("", "nan")
