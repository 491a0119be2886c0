"""Fitting and choosing the blend ``w * LightGBM + (1 - w) * linear`` (log-odds), everything on
the expanding-window time folds of the training period (never the test):

* recency weights ``0.5 ** (age in years / half-life)`` for LightGBM and the linear part, the
  half-life from a grid (``None`` = no decay), each learner its own;
* honest out-of-fold LightGBM log-odds: early stopping on each fold gives its best iteration,
  then fold k is refitted with the mean best iteration of the OTHER folds (stopping each fold on
  its own validation rows flatters LightGBM against a learner that does not peek);
* the linear part (``models.linear.LinearPart``): L2-regularised logistic regression by
  L-BFGS-B, coefficients of the spec's ``monotone`` features bounded to the declared sign;
* LightGBM's half-life, the linear part's C and half-life and the weight w chosen together, by
  the blend's pooled out-of-fold log loss (the loss of what is served, as ``compass tune``
  judges a trial; a learner's best settings alone need not be its best in the blend; ties ->
  the larger w, w = 1 is LightGBM alone);
* whether to recalibrate with Platt on the latest fold, judged forward (fit on fold k-1, apply
  to fold k, averaged; kept only if it beats no recalibration).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from features.spec import DatasetSpec
from models.linear import LinearPart, signed_log
from training.boosting import booster_params, dataset, sample_rows

DAYS_PER_YEAR = 365.25
# Rows of a fold's training block the linear part's choice fits on: its few dozen coefficients
# are pinned down long before this, while its fits on every row were the largest cost of the
# time folds in a profile of a large history; below it every row is used, exactly as before.
LINEAR_CHOICE_ROWS = 50_000
# Training rows LightGBM's half-life is chosen on when the grid has several: early-stopped runs
# per half-life and fold grow faster than the rows (more rows, more trees each); the chosen
# one then runs on every row, on the latest LATEST_FOLDS folds.
LGBM_CHOICE_ROWS = 100_000
# When the half-life was chosen on a sample, the chosen one's early-stopped runs on every row
# cover only the latest folds: two, so that each is refitted with the other's best iteration
# (honest), holding the most launches, and with training blocks nearest the final fit's size
# (the tree count comes from them); the earliest, smallest folds cost as much again and told
# the final fit least.
LATEST_FOLDS = 2
Folds = list[tuple[np.ndarray, np.ndarray]]


def training_threads(params: dict[str, Any]) -> int:
    """The cores training may use: LightGBM's ``num_threads`` (0 or unset: every core)."""
    return int(params.get("num_threads") or 0) or len(os.sched_getaffinity(0))


def recency_weights(days: np.ndarray, half_life_years: float | None) -> np.ndarray | None:
    """Row weights halving every ``half_life_years`` before the latest training day."""
    if half_life_years is None:
        return None
    days = np.asarray(days, dtype=float)
    return 0.5 ** ((days.max() - days) / DAYS_PER_YEAR / half_life_years)


def logloss(y: np.ndarray, z: np.ndarray) -> float:
    """Log loss of log-odds ``z``."""
    p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def oof_mask(n: int, folds: Folds) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for _, va in folds:
        mask[va] = True
    return mask


# ---- LightGBM ---------------------------------------------------------------------------------
@dataclass
class HonestOOF:
    oof_logit: np.ndarray  # NaN for rows never in a validation block
    best_iterations: list[int]  # early-stopping best iteration per fold
    fold_logloss: list[float]  # of the refitted (honest) folds


def honest_lgbm_oof(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    folds: Folds,
    half_life: float | None,
    max_rounds: int,
    early_stopping: int,
    latest_fold_callbacks: list[Any] | None = None,
) -> HonestOOF:
    """Out-of-fold LightGBM log-odds no fold has tuned on itself (see the module doc).

    Fold k's refit with K trees is the first K trees of its early-stopping run (training is
    sequential and seeded, so they are the same trees); a K past that run's last tree is the
    same run trained on to K (its booster keeps its training set: no fit from scratch).
    ``latest_fold_callbacks`` (an Optuna pruning callback) run in the latest fold's
    early-stopping run, which goes first so a hopeless trial stops early."""
    p = booster_params(params, spec, names)

    def train_set(tr: np.ndarray) -> lgb.Dataset:
        return dataset(x[tr], y[tr], names, categorical, recency_weights(days[tr], half_life))

    boosters: dict[int, lgb.Booster] = {}
    best = [0] * len(folds)
    for k in reversed(range(len(folds))):
        tr, va = folds[k]
        extra = latest_fold_callbacks if k == len(folds) - 1 else None
        booster = lgb.train(
            p,
            train_set(tr),
            num_boost_round=max_rounds,
            valid_sets=[dataset(x[va], y[va], names, categorical)],
            callbacks=[lgb.early_stopping(early_stopping, verbose=False), *(extra or [])],
            keep_training_booster=True,  # trained on below if the honest K is past its end
        )
        boosters[k] = booster
        best[k] = booster.best_iteration or max_rounds
    oof, losses = np.full(len(y), np.nan), []
    for k, (_, va) in enumerate(folds):
        others = [b for i, b in enumerate(best) if i != k] or best
        rounds = max(10, int(np.mean(others)))
        booster = boosters.pop(k)  # popped: its training set is freed after this fold
        for _ in range(rounds - booster.current_iteration()):
            booster.update()  # the trees a fresh ``rounds``-tree fit would grow (tested)
        oof[va] = booster.predict(x[va], raw_score=True, num_iteration=rounds)
        losses.append(logloss(y[va], oof[va]))
    return HonestOOF(oof, best, losses)


# ---- the linear part ----------------------------------------------------------------------------
def encoders_for(
    x: np.ndarray, names: list[str], categorical: list[str], min_frequency: int = 10
) -> list[dict[str, Any]]:
    """Per feature: the one-hot levels (seen >= ``min_frequency`` times) of a categorical code,
    or the signed-log median / mean / sd, whether a missing indicator is needed, and the range
    of the finite values (the part clips to it when scoring; [0, 0], the median, if none)."""
    out: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        col = x[:, j]
        if name in categorical:
            codes, counts = np.unique(col[np.isfinite(col)], return_counts=True)
            out.append({"kind": "cat", "levels": codes[counts >= min_frequency].tolist()})
            continue
        seen = col[np.isfinite(col)]
        v = signed_log(np.where(np.isfinite(col), col, np.nan))
        finite = np.isfinite(v)
        med = float(np.median(v[finite])) if finite.any() else 0.0
        filled = np.where(finite, v, med)
        out.append(
            {
                "kind": "num",
                "log": True,
                "median": med,
                "mean": float(filled.mean()),
                "sd": float(filled.std()) or 1.0,
                "indicator": bool((~finite).any()),
                "lo": float(seen.min()) if len(seen) else 0.0,
                "hi": float(seen.max()) if len(seen) else 0.0,
            }
        )
    return out


def _bounds(
    part: LinearPart, monotone: dict[str, int] | None
) -> list[tuple[float | None, float | None]]:
    """Intercept free; a ``monotone`` feature's coefficients bounded to the declared sign
    (signed log and standardising are increasing, so the sign carries over to the raw
    feature); missing indicators free."""
    monotone = monotone or {}
    bounds: list[tuple[float | None, float | None]] = [(None, None)]
    for j, indicator in zip(part.owners, part.indicator_columns(), strict=True):
        sign = monotone.get(part.feature_names[j], 0)
        if sign and not indicator:
            bounds.append((0.0, None) if sign > 0 else (None, 0.0))
        else:
            bounds.append((None, None))
    return bounds


def _solve(
    d: np.ndarray,
    y: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
    C: float,
    sample_weight: np.ndarray | None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """L-BFGS-B on ``(sum of weighted logistic losses + 0.5 / C * ||coef||^2) / n`` (sklearn's
    C; intercept unpenalised; weights rescaled to sum to n so C means the same with or without
    them). Returns (intercept, coef...)."""
    y = np.asarray(y, dtype=float)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    sw = sw * len(y) / sw.sum()
    if start is None:
        p0 = float(np.clip(np.average(y, weights=sw), 1e-4, 1 - 1e-4))
        start = np.zeros(d.shape[1] + 1)
        start[0] = np.log(p0 / (1 - p0))
    n, lam = float(len(y)), 1.0 / C

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = w[0] + d @ w[1:]
        nll = sw * (np.logaddexp(0.0, z) - y * z)  # log(1 + e^z) - y z, stably
        r = sw * (0.5 * (1.0 + np.tanh(0.5 * z)) - y)  # sigmoid without overflow
        g = np.concatenate([[r.sum()], d.T @ r + lam * w[1:]]) / n
        return float(nll.sum() + 0.5 * lam * (w[1:] @ w[1:])) / n, g

    # one BLAS thread: the products are small, and BLAS threads spinning against LightGBM's
    # (or any other busy core) make the fits many times slower
    with threadpool_limits(1, user_api="blas"):
        res = minimize(
            loss,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "gtol": 1e-6, "ftol": 1e-10},
        )
    return np.asarray(res.x)


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    categorical: list[str],
    monotone: dict[str, int] | None,
    C: float,
    sample_weight: np.ndarray | None = None,
    min_frequency: int = 10,
) -> LinearPart:
    """The linear part on ``x``: encoders fitted on its rows, then :func:`_solve`."""
    part = LinearPart(list(names), encoders_for(x, names, categorical, min_frequency), C=C)
    d = part.design(x)
    w = _solve(d, y, _bounds(part, monotone), C, sample_weight)
    part.intercept, part.coef = float(w[0]), w[1:].tolist()
    part.reference = d.mean(axis=0).tolist()
    return part


@dataclass
class LinearChoice:
    C: float
    half_life: float | None
    oof_logit: np.ndarray
    report: dict[str, float] = field(default_factory=dict)


def linear_oofs(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    folds: Folds,
    names: list[str],
    categorical: list[str],
    monotone: dict[str, int] | None,
    c_grid: tuple[float, ...],
    half_life_grid: tuple[float | None, ...],
    min_frequency: int = 10,
    max_rows: int = LINEAR_CHOICE_ROWS,
    threads: int = 1,
) -> dict[tuple[float | None, float], np.ndarray]:
    """The linear part's out-of-fold log-odds per (recency half-life, C), NaN outside the
    folds. Each fold's encoders and design are built once; C runs from strong to weak
    regularisation, each fit starting from the previous one's solution (the same optimum, far
    fewer iterations). A training block longer than ``max_rows`` is fitted on a seeded sample
    of that many of its rows (every validation row is still predicted), with C scaled so the
    penalty weighs against the data as it would on the whole block. ``threads``: how many
    (fold, half-life) paths run at once."""
    oof = {(hl, C): np.full(len(y), np.nan) for hl in half_life_grid for C in c_grid}

    def design(tr: np.ndarray, va: np.ndarray) -> tuple[Any, ...]:
        fit = sample_rows(tr, max_rows)
        part = LinearPart(list(names), encoders_for(x[fit], names, categorical, min_frequency))
        scale = len(tr) / len(fit)  # exactly 1.0 (C unchanged) when every row is used
        return fit, part.design(x[fit]), part.design(x[va]), _bounds(part, monotone), scale

    def c_path(va: np.ndarray, fold: tuple[Any, ...], hl: float | None) -> None:
        fit, d_tr, d_va, bounds, scale = fold
        weight, start = recency_weights(days[fit], hl), None
        for C in sorted(c_grid):
            start = _solve(d_tr, y[fit], bounds, C * scale, weight, start)
            oof[hl, C][va] = start[0] + d_va @ start[1:]  # each path its own cells: no races

    # each fold's design once, then the (fold, half-life) paths, independent, on ``threads``
    # threads (NumPy's array work and BLAS release the GIL: one thread's results, sooner). The
    # BLAS limit is set here around them all, not per fit: threadpoolctl's limit is
    # process-wide, and one fit restoring it would lift it under the others.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max(1, threads)) as pool:
        designs = list(pool.map(lambda f: design(*f), folds))
        paths = [
            pool.submit(c_path, va, fold, hl)
            for (_, va), fold in zip(folds, designs, strict=True)
            for hl in half_life_grid
        ]
        for path in paths:
            path.result()
    return oof


def select_weight(
    lgbm_oof: np.ndarray,
    linear_oof: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    w_grid: tuple[float, ...],
) -> tuple[float, dict[str, float]]:
    """w of ``w * lgbm + (1 - w) * linear`` on the out-of-fold rows; ties -> the larger w."""
    a, b, yy = lgbm_oof[mask], linear_oof[mask], y[mask]
    losses = {w: logloss(yy, w * a + (1 - w) * b) for w in w_grid}
    best = min(losses.values())
    w = max(k for k, v in losses.items() if v <= best + 1e-12)
    return float(w), {str(k): round(v, 5) for k, v in losses.items()}


def _platt(z: np.ndarray, y: np.ndarray) -> dict[str, float]:
    lr = LogisticRegression(C=1e4).fit(z[:, None], y)
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def forward_platt(
    z: np.ndarray, y: np.ndarray, folds: Folds
) -> tuple[dict[str, float] | None, dict[str, float]]:
    """Platt on the latest fold's out-of-fold log-odds, if a forward check approves it: Platt
    fitted on fold k-1 and applied to fold k, averaged over k, must beat no recalibration.
    Returns ({"a", "b"} or None) and the forward log losses."""
    none, platt = [], []
    for k in range(1, len(folds)):
        prev, cur = folds[k - 1][1], folds[k][1]
        ab = _platt(z[prev], y[prev])
        none.append(logloss(y[cur], z[cur]))
        platt.append(logloss(y[cur], ab["a"] * z[cur] + ab["b"]))
    if not none:
        return None, {}
    report = {"forward_none": float(np.mean(none)), "forward_platt": float(np.mean(platt))}
    if report["forward_platt"] < report["forward_none"]:
        return _platt(z[folds[-1][1]], y[folds[-1][1]]), report
    return None, report


# ---- the whole choice ---------------------------------------------------------------------------
@dataclass
class BlendChoice:
    lgbm_half_life: float | None
    lgbm: HonestOOF  # honest OOF of the chosen half-life
    linear: LinearChoice
    w: float
    oof_logit: np.ndarray  # the blend's pooled out-of-fold log-odds (NaN outside the folds)
    mask: np.ndarray
    platt: dict[str, float] | None  # forward-approved Platt on the blend, or None
    report: dict[str, Any]
    folds: Folds  # the folds ``oof_logit`` covers (the latest ones after a sampled choice)

    @property
    def learner(self) -> str:
        return "lightgbm" if self.w >= 1.0 else "linear" if self.w <= 0.0 else "blend"


def choose_blend(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    folds: Folds,
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    max_rounds: int,
    early_stopping: int,
    lgbm_half_lives: tuple[float | None, ...],
    linear_half_lives: tuple[float | None, ...],
    c_grid: tuple[float, ...],
    w_grid: tuple[float, ...],
    min_frequency: int = 10,
    latest_fold_callbacks: list[Any] | None = None,
    choice_rows: int = LGBM_CHOICE_ROWS,
) -> BlendChoice:
    """LightGBM's half-life, the linear part's C and half-life and w (together, see the module
    doc), then forward Platt.
    ``latest_fold_callbacks`` go to :func:`honest_lgbm_oof` (one LightGBM half-life only: a
    pruning callback follows one run). ``choice_rows``: :data:`LGBM_CHOICE_ROWS`."""
    if latest_fold_callbacks and len(lgbm_half_lives) > 1:
        raise ValueError("latest-fold callbacks need a single LightGBM half-life")
    mask = oof_mask(len(y), folds)
    lins = linear_oofs(
        x,
        y,
        days,
        folds,
        names,
        categorical,
        spec.feature_monotone(),
        c_grid,
        linear_half_lives,
        min_frequency,
        threads=training_threads(params),
    )
    linear_loss = {k: logloss(y[mask], z[mask]) for k, z in lins.items()}

    def lgbm_oof(hl: float | None, on: Folds) -> HonestOOF:
        return honest_lgbm_oof(
            x,
            y,
            days,
            names,
            categorical,
            spec,
            params,
            on,
            hl,
            max_rounds,
            early_stopping,
            latest_fold_callbacks,
        )

    # LightGBM's half-life is one of a few: past ``choice_rows`` rows it is chosen on a seeded
    # sample of them (the same time folds, fewer rows), and only the chosen one runs on every
    # row (its trees, out-of-fold log-odds and w are then the whole history's)
    several = len(lgbm_half_lives) > 1
    judged = np.zeros(len(y), dtype=bool)
    judged[sample_rows(np.arange(len(y)), choice_rows if several else len(y))] = True
    sampled = not judged.all()
    judged_folds = [(tr[judged[tr]], va[judged[va]]) for tr, va in folds]
    cvs = {hl: lgbm_oof(hl, judged_folds) for hl in lgbm_half_lives}
    on = mask & judged
    lgbm_loss = {hl: logloss(y[on], c.oof_logit[on]) for hl, c in cvs.items()}
    # the blend's loss at its best w, per (LightGBM half-life, (linear half-life, C))
    joint = {}
    for hl, cv in cvs.items():
        for key, lz in lins.items():
            w, _ = select_weight(cv.oof_logit, lz, y, on, w_grid)
            joint[hl, key] = logloss(y[on], w * cv.oof_logit[on] + (1 - w) * lz[on])
    hl_lgbm, (hl_lin, C) = min(joint, key=joint.__getitem__)  # ties: the first in grid order
    by_lgbm = {str(h): round(min(v for k, v in joint.items() if k[0] == h), 5) for h in cvs}
    if sampled:  # the chosen half-life on every row of the latest folds (LATEST_FOLDS)
        folds = folds[-LATEST_FOLDS:]
        mask = oof_mask(len(y), folds)
        lgbm = lgbm_oof(hl_lgbm, folds)
    else:
        lgbm = cvs[hl_lgbm]
    lin = LinearChoice(
        C,
        hl_lin,
        lins[hl_lin, C],
        {f"C={c} half_life={h}": round(v, 5) for (h, c), v in linear_loss.items()},
    )
    w, w_report = select_weight(lgbm.oof_logit, lin.oof_logit, y, mask, w_grid)
    z = w * lgbm.oof_logit + (1 - w) * lin.oof_logit
    platt, forward = forward_platt(z, y, folds)
    report = {
        "learner": "lightgbm" if w >= 1.0 else "linear" if w <= 0.0 else "blend",
        "w": w,
        "lgbm_half_life": hl_lgbm,
        "linear": {"C": lin.C, "half_life": lin.half_life},
        "oof_logloss": {
            "lgbm": round(logloss(y[mask], lgbm.oof_logit[mask]), 5),
            "linear": round(logloss(y[mask], lin.oof_logit[mask]), 5),
            "blend": round(logloss(y[mask], z[mask]), 5),
        },
        # LightGBM's half-life was judged on this many rows (all of them unless sampled), and
        # the blend on this many folds' validation blocks (all of them unless sampled)
        "lgbm_half_life_rows": int(judged.sum()),
        "oof_folds": len(folds),
        "lgbm_oof_logloss_by_half_life": {str(h): round(v, 5) for h, v in lgbm_loss.items()},
        "linear_oof_logloss": lin.report,
        # the blend's best (over the linear part's settings and w) per LightGBM half-life
        "blend_oof_logloss_by_lgbm_half_life": by_lgbm,
        "w_oof_logloss": w_report,
        "forward_calibration": {k: round(v, 5) for k, v in forward.items()},
    }
    return BlendChoice(hl_lgbm, lgbm, lin, w, z, mask, platt, report, folds)
