"""Fitting the text models (``features.text``) and stacking their scores into the hit model
without look-ahead.

Each text field's score enters the learners as one feature. A launch's score must come from a
text model that never saw it, nor anything after it, or the learners would trust an in-sample
score that new concepts never get. So the training period's scores are stacked along the time
folds the learners use (``training.train.time_folds``, expanding windows):

* the launches of validation block k+1 get the score of a text model fitted on blocks 1..k;
  block 1 (no earlier launches) has none (NaN: missing to the learners, which learn what a
  missing score means, and serving never sends one);
* every fold of the learners' own CV then sees, for its training rows, scores from blocks before
  each row, and for its validation rows, scores from its training blocks only: the same
  out-of-fold scores serve every fold and the final fit;
* each text model's C (L2 strength) is chosen on those folds, by the pooled out-of-fold log
  loss of the text score alone; the served text model is then fitted on every training launch
  with that C (so is the score of the held-out test and of every concept scored later).

The training rows are built by :class:`GramCounts`, a vectorised twin of
``TextModel.row`` (the n-grams themselves come from ``features.text.token_grams``, the one
extraction of training and serving; a test holds the two rows equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from features.spec import DatasetSpec, TextField
from features.text import TextModel, grams_of

Folds = list[tuple[np.ndarray, np.ndarray]]


class TextTraining(BaseModel):
    """``training/config.yaml``'s ``text``: how the text models are fitted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    c_grid: list[float] = Field(
        [0.1, 0.3, 1.0, 3.0],
        min_length=1,
        description="Inverse L2 strengths tried (scikit-learn's C), chosen on the time folds.",
    )
    min_df: int = Field(2, ge=1, description="Training texts an n-gram needs to be kept.")
    max_features: int = Field(
        50_000, ge=1, description="Most n-grams kept per field (the most frequent)."
    )

    @field_validator("c_grid")
    @classmethod
    def _cs(cls, v: list[float]) -> list[float]:
        if not all(c > 0 for c in v):
            raise ValueError("C is positive")
        return sorted(v)


def logloss(y: np.ndarray, z: np.ndarray) -> float:
    p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass
class GramCounts:
    """Every text's n-gram counts as integer arrays: one row per (text, distinct n-gram)."""

    names: list[str]  # n-gram id -> n-gram
    doc: np.ndarray  # the text's row
    gram: np.ndarray  # the n-gram's id
    count: np.ndarray  # its occurrences in the text
    n_docs: int
    occurrences: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per text

    @classmethod
    def of(cls, texts: Any, text: TextField) -> GramCounts:
        ids: dict[str, int] = {}
        docs, grams = [], []
        lengths = []
        for i, t in enumerate(np.asarray(texts, dtype=object).tolist()):
            gs = grams_of(t, text.analyzer, text.ngram_range)
            lengths.append(len(gs))
            docs += [i] * len(gs)
            grams += [ids.setdefault(g, len(ids)) for g in gs]
        n = len(lengths)
        key = np.asarray(docs, dtype=np.int64) * max(len(ids), 1) + np.asarray(grams, np.int64)
        pairs, count = np.unique(key, return_counts=True)
        width = max(len(ids), 1)
        return cls(
            list(ids), pairs // width, pairs % width, count, n, np.asarray(lengths, dtype=float)
        )

    def vocabulary(self, rows: np.ndarray, min_df: int, max_features: int) -> np.ndarray:
        """The n-gram ids kept by a fit on ``rows`` (``features.text``'s rule: in at least
        ``min_df`` texts, the ``max_features`` most frequent, ties by n-gram), sorted by n-gram."""
        in_rows = np.zeros(self.n_docs, dtype=bool)
        in_rows[rows] = True
        df = np.bincount(self.gram[in_rows[self.doc]], minlength=len(self.names))
        kept = np.flatnonzero(df >= min_df)
        if len(kept) > max_features:
            kept = np.array(sorted(kept, key=lambda g: (-df[g], self.names[g]))[:max_features])
        return np.array(sorted(kept.tolist(), key=self.names.__getitem__), dtype=np.int64)

    def document_frequency(self, rows: np.ndarray, vocab: np.ndarray) -> np.ndarray:
        in_rows = np.zeros(self.n_docs, dtype=bool)
        in_rows[rows] = True
        df = np.bincount(self.gram[in_rows[self.doc]], minlength=len(self.names))
        return df[vocab]

    def matrix(self, rows: np.ndarray, vocab: np.ndarray, idf: np.ndarray) -> csr_matrix:
        """TF-IDF rows of the texts ``rows`` over ``vocab`` (as ``TextModel.row``)."""
        position = np.full(self.n_docs, -1)
        position[rows] = np.arange(len(rows))
        column = np.full(len(self.names), -1)
        column[vocab] = np.arange(len(vocab))
        r, c = position[self.doc], column[self.gram]
        keep = (r >= 0) & (c >= 0)
        r, c = r[keep], c[keep]
        v = (1.0 + np.log(self.count[keep])) * idf[c]
        norm = np.sqrt(np.bincount(r, weights=v * v, minlength=len(rows)))
        v = v / norm[r]
        return csr_matrix((v, (r, c)), shape=(len(rows), len(vocab)))

    def unseen_share(self, rows: np.ndarray, vocab: np.ndarray) -> np.ndarray:
        """Per text of ``rows``: the share of its n-gram occurrences outside ``vocab``."""
        known = np.zeros(len(self.names), dtype=bool)
        known[vocab] = True
        seen = np.bincount(self.doc, weights=self.count * known[self.gram], minlength=self.n_docs)
        total = self.occurrences
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, 1.0 - seen / total, np.nan)
        return share[rows]


@dataclass
class FoldFit:
    """One fit of a text field on some rows: its vocabulary (ids), idf and regression."""

    vocab: np.ndarray
    idf: np.ndarray
    coef: np.ndarray
    intercept: float

    def decision(self, x: csr_matrix) -> np.ndarray:
        return x @ self.coef + self.intercept


def _fits(
    counts: GramCounts, rows: np.ndarray, y: np.ndarray, c_grid: list[float], cfg: TextTraining
) -> dict[float, FoldFit]:
    """A fit on ``rows`` per C (strong penalty first, each fit starting from the previous
    solution: the same optimum in fewer steps)."""
    vocab = counts.vocabulary(rows, cfg.min_df, cfg.max_features)
    df = counts.document_frequency(rows, vocab)
    idf = np.log((1.0 + len(rows)) / (1.0 + df)) + 1.0
    yy = y[rows].astype(int)
    if len(vocab) == 0 or len(np.unique(yy)) < 2:  # nothing to learn: the base rate
        rate = float(np.clip(yy.mean() if len(yy) else 0.5, 1e-4, 1 - 1e-4))
        return dict.fromkeys(c_grid, FoldFit(vocab, idf, np.zeros(len(vocab)), _logit(rate)))
    x = counts.matrix(rows, vocab, idf)
    out: dict[float, FoldFit] = {}
    lr = LogisticRegression(max_iter=3000, tol=1e-6, warm_start=True)
    # one thread: scikit-learn's loss runs OpenMP threads, which spin against every other busy
    # core (measured: a fit 14x slower on a loaded machine)
    with threadpool_limits(1):
        for C in c_grid:
            lr.set_params(C=C).fit(x, yy)
            out[C] = FoldFit(vocab, idf, lr.coef_[0].copy(), float(lr.intercept_[0]))
    return out


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def to_text_model(counts: GramCounts, text: TextField, fit: FoldFit, C: float, n: int) -> TextModel:
    """The served form of a fit (JSON state; ``features.text``)."""
    return TextModel(
        text.column,
        text.analyzer,
        text.ngram_range,
        [counts.names[g] for g in fit.vocab],
        fit.idf.tolist(),
        fit.coef.tolist(),
        fit.intercept,
        C,
        n,
    )


def fit_text_model(
    text: TextField, texts: Any, y: np.ndarray, C: float, cfg: TextTraining
) -> TextModel:
    """One text model of ``text`` on every text given (e.g. a whole training period)."""
    counts = GramCounts.of(texts, text)
    fit = _fits(counts, np.arange(counts.n_docs), np.asarray(y), [C], cfg)[C]
    return to_text_model(counts, text, fit, C, counts.n_docs)


@dataclass
class TextStack:
    """The text models of a training period and their stacked out-of-fold scores."""

    models: dict[str, TextModel]  # fitted on every training launch, with the chosen C
    oof: dict[str, np.ndarray]  # per field, per training launch (NaN: block 1)
    report: dict[str, Any]
    # the latest fold's out-of-fold scores and unseen n-gram shares: what the served text model
    # gives new concepts, the reference of drift monitoring (training.monitor)
    reference: dict[str, tuple[np.ndarray, np.ndarray]]

    def into(self, x: np.ndarray, features: dict[str, int], rows: np.ndarray | None = None) -> None:
        """Put the out-of-fold scores (of ``rows``, default all) into ``x``'s text columns
        (``features``: field -> its column), in place."""
        for col, j in features.items():
            x[:, j] = self.oof[col] if rows is None else self.oof[col][rows]


def stack_text(
    columns: dict[str, np.ndarray],
    y: np.ndarray,
    spec: DatasetSpec,
    folds: Folds,
    cfg: TextTraining,
) -> TextStack:
    """The text models of the training period and their out-of-fold scores (module doc)."""
    y = np.asarray(y)
    models, oof, report, reference = {}, {}, {}, {}
    for text in spec.text:
        counts = GramCounts.of(columns[text.column], text)
        by_c = {C: np.full(len(y), np.nan) for C in cfg.c_grid}
        unseen = np.full(len(y), np.nan)
        for tr, va in folds:
            fits = _fits(counts, tr, y, cfg.c_grid, cfg)
            for C, fit in fits.items():
                by_c[C][va] = fit.decision(counts.matrix(va, fit.vocab, fit.idf))
            unseen[va] = counts.unseen_share(va, fits[cfg.c_grid[0]].vocab)
        mask = ~np.isnan(by_c[cfg.c_grid[0]])
        losses = {C: logloss(y[mask], z[mask]) for C, z in by_c.items()}
        C = min(losses, key=losses.__getitem__)  # ties: the strongest penalty
        final = _fits(counts, np.arange(len(y)), y, [C], cfg)[C]
        models[text.column] = to_text_model(counts, text, final, C, len(y))
        oof[text.column] = by_c[C]
        latest = folds[-1][1]
        reference[text.column] = (by_c[C][latest], unseen[latest])
        has_both = mask.any() and len(np.unique(y[mask])) == 2
        report[text.column] = {
            "C": C,
            "oof_logloss_by_C": {str(c): round(v, 5) for c, v in losses.items()},
            "oof_logloss": round(losses[C], 5),
            "oof_auc": round(float(roc_auc_score(y[mask], by_c[C][mask])), 5) if has_both else None,
            "oof_rows": int(mask.sum()),
            "vocabulary": len(models[text.column].vocabulary),
        }
    return TextStack(models, oof, report, reference)
