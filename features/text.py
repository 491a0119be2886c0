"""The concept's own words as one number per text field: a logistic regression on TF-IDF n-grams
of the field (``text:`` in the dataset spec), saved as JSON (vocabulary, idf, weights).

Featurising, the one code path of training and serving (:func:`token_grams`):

* the text is NFKC-normalised (full-width letters and digits read as their usual forms) and cut
  into tokens, the runs of word characters (``\\w+``): a Latin word, a number, and in Chinese or
  Japanese the run of characters between two punctuation marks (a name, a claim);
* analyzer ``char`` (the default, for languages written without spaces): the character
  n-grams of each lowercased token padded with one space at each end (``" ai "`` gives
  ``" a"``, ``"ai"``, ``"i "``, ``" ai"``...), whitespace-only n-grams left out;
* analyzer ``word``: n-grams of consecutive lowercased tokens, joined by one space;
* TF-IDF as scikit-learn's ``sublinear_tf`` and ``smooth_idf``: ``tf = 1 + ln(count)``,
  ``idf = ln((1 + n) / (1 + df)) + 1``, each row scaled to unit length; n-grams outside the
  vocabulary are left out (and counted: :meth:`TextModel.unseen_share`).

The text score is ``intercept + x @ weights``, the log-odds of a hit from the words alone. It
splits exactly into one term per n-gram occurrence; :meth:`TextModel.phrases` gives each token
the terms of the n-grams inside it (a word n-gram's term shared evenly by its tokens), so a
concept's phrases and their terms sum to its score minus the intercept.

Fitting lives in ``training.text`` (a vectorised twin of :meth:`TextModel.row` builds the
training rows; a test holds the two equal).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TOKEN = re.compile(r"\w+")
Grams = list[tuple[str, tuple[int, ...]]]  # (n-gram, the tokens it is made of)


def as_text(value: Any) -> str:
    """A cell as text: a missing one (None, NaN) is the empty text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` as written (after NFKC): runs of word characters."""
    return TOKEN.findall(unicodedata.normalize("NFKC", text))


def token_grams(words: Sequence[str], analyzer: str, ngram_range: tuple[int, int]) -> Grams:
    """Every n-gram occurrence of the tokens ``words``, with the tokens it covers."""
    lo, hi = ngram_range
    out: Grams = []
    lowered = [w.lower() for w in words]
    if analyzer == "word":
        for n in range(lo, hi + 1):
            for i in range(len(lowered) - n + 1):
                out.append((" ".join(lowered[i : i + n]), tuple(range(i, i + n))))
        return out
    for i, w in enumerate(lowered):
        padded, at = f" {w} ", (i,)
        for n in range(lo, hi + 1):
            for j in range(len(padded) - n + 1):
                gram = padded[j : j + n]
                if not gram.isspace():
                    out.append((gram, at))
    return out


def grams_of(text: Any, analyzer: str, ngram_range: tuple[int, int]) -> tuple[str, ...]:
    """The n-grams of one text (occurrences, in order)."""
    return _analysed(as_text(text), analyzer, tuple(ngram_range))[1]  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _analysed(text: str, analyzer: str, ngram_range: tuple[int, int]) -> tuple[Any, ...]:
    """(tokens, n-grams, n-gram occurrences with their tokens) of one text, kept for the texts
    seen last: a request's texts are analysed for the score, the warnings and the phrases."""
    words = tokens(text)
    occurrences = token_grams(words, analyzer, ngram_range)
    return tuple(words), tuple(g for g, _ in occurrences), tuple(occurrences)


@dataclass
class TextModel:
    """One text field's model: vocabulary, idf and weights (JSON, see the module doc)."""

    column: str
    analyzer: str
    ngram_range: tuple[int, int]
    vocabulary: list[str]
    idf: list[float]
    weights: list[float]
    intercept: float
    C: float
    fitted_rows: int = 0
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ngram_range = (int(self.ngram_range[0]), int(self.ngram_range[1]))
        self._index = {g: i for i, g in enumerate(self.vocabulary)}

    # ---- featurising -------------------------------------------------------------------------
    def grams(self, text: Any) -> tuple[str, ...]:
        return grams_of(text, self.analyzer, self.ngram_range)

    def row(self, grams: Iterable[str]) -> tuple[list[int], list[float]]:
        """One text's TF-IDF row: (vocabulary indices, unit-length values); empty if none of
        its n-grams is in the vocabulary."""
        counts = Counter(i for g in grams if (i := self._index.get(g)) is not None)
        if not counts:
            return [], []
        idx = list(counts)
        vals = [(1.0 + math.log(counts[i])) * self.idf[i] for i in idx]
        norm = math.sqrt(sum(v * v for v in vals))
        return idx, [v / norm for v in vals]

    # ---- scoring -----------------------------------------------------------------------------
    def score_grams(self, grams: Iterable[str]) -> float:
        idx, vals = self.row(grams)
        w = self.weights
        return self.intercept + sum(v * w[i] for i, v in zip(idx, vals, strict=True))

    def scores(self, texts: Iterable[Any]) -> np.ndarray:
        """The text score (log-odds of a hit from the words alone) of each text."""
        return np.array([self.score_grams(self.grams(t)) for t in texts], dtype=float)

    def unseen_share(self, texts: Iterable[Any]) -> np.ndarray:
        """Per text, the share of its n-gram occurrences outside the vocabulary (NaN: none)."""
        out = []
        for t in texts:
            grams = self.grams(t)
            unseen = sum(g not in self._index for g in grams)
            out.append(unseen / len(grams) if grams else np.nan)
        return np.array(out, dtype=float)

    def phrases(self, text: Any) -> list[tuple[str, float]]:
        """The tokens of ``text`` (as written; a repeated one once) with their terms in the
        text score, in order of appearance; the terms sum to the score minus the intercept."""
        words, _, occurrences = _analysed(as_text(text), self.analyzer, self.ngram_range)
        idx, vals = self.row(g for g, _ in occurrences)
        term = {i: v * self.weights[i] for i, v in zip(idx, vals, strict=True)}
        counts = Counter(self._index.get(g) for g, _ in occurrences)
        per_token = [0.0] * len(words)
        for g, covered in occurrences:
            i = self._index.get(g)
            if i is None:
                continue
            share = term[i] / counts[i] / len(covered)
            for t in covered:
                per_token[t] += share
        merged: dict[str, list[Any]] = {}  # lowercased token -> [as first written, term]
        for w, v in zip(words, per_token, strict=True):
            entry = merged.setdefault(w.lower(), [w, 0.0])
            entry[1] += v
        return [(w, v) for w, v in merged.values()]

    # ---- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "vocabulary": self.vocabulary,
            "idf": self.idf,
            "weights": self.weights,
            "intercept": self.intercept,
            "C": self.C,
            "fitted_rows": self.fitted_rows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextModel:
        model = cls(
            d["column"],
            d["analyzer"],
            tuple(d["ngram_range"]),  # type: ignore[arg-type]
            list(d["vocabulary"]),
            [float(v) for v in d["idf"]],
            [float(v) for v in d["weights"]],
            float(d["intercept"]),
            float(d["C"]),
            int(d.get("fitted_rows", 0)),
        )
        if not len(model.vocabulary) == len(model.idf) == len(model.weights):
            raise ValueError(f"text model of {model.column!r}: vocabulary, idf, weights differ")
        return model
