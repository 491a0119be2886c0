"""The funnel card's norms: per stage of the spec's ``funnel`` and per category, the distribution
of past launches' shrunk conversion rates.

Each past launch's rate is shrunk toward a prior refitted on the launches before its time fold
(``training.train.time_folds``): what the card would have said of it before it launched. A
launch's own counts inside the prior it is shrunk toward would pull the norm toward itself, and
a prior fitted on the whole history would hold the future of the earlier launches. Launches of
the first block (no earlier launches to fit a prior on), and launches that did not run a stage
(no trials), are left out of that stage's norm. Serving (``scoring.funnel``) places a concept's
rate, shrunk toward the prior of the whole training history, among them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.build import Columns, fit_pair_prior_of, pair_posterior
from features.spec import DatasetSpec
from training.forecast import NORM_QUANTILES, norm_column

MIN_LAUNCHES = 20  # past launches of a category behind a stage's norm, or the all-category one


def funnel_norms(
    spec: DatasetSpec, columns: Columns, folds: list[tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any] | None:
    """``{"by", "stages", "quantiles": {stage: {category: [...]}}, "n": {stage: {category:
    n}}}`` (category ``"*"``: all together) from the training ``columns`` and the time
    ``folds`` (train rows, validation rows) of the training period; None without a funnel."""
    if not spec.funnel:
        return None
    pairs = {p.name: p for p in spec.count_pairs}
    by = norm_column(spec)
    n = len(np.asarray(columns[spec.date_column]))
    groups = np.asarray(columns[by]).astype(str) if by else np.full(n, "*")
    rates = {stage: np.full(n, np.nan) for stage in spec.funnel}
    for fit_rows, rows in folds:
        earlier = {k: np.asarray(v)[fit_rows] for k, v in columns.items()}
        later = {k: np.asarray(v)[rows] for k, v in columns.items()}
        for stage, rate in rates.items():
            prior = fit_pair_prior_of(earlier, pairs[stage])
            succ, trials, mean = pair_posterior(later, pairs[stage], prior)
            shrunk = (succ + prior.kappa * mean) / (trials + prior.kappa)
            rate[rows] = np.where(trials > 0, shrunk, np.nan)
    grid = np.linspace(0.0, 1.0, NORM_QUANTILES)
    out: dict[str, Any] = {"by": by, "stages": list(spec.funnel), "quantiles": {}, "n": {}}
    for stage, rate in rates.items():
        has = np.isfinite(rate)
        out["quantiles"][stage], out["n"][stage] = {}, {}
        keys = {"*": has} | {str(g): has & (groups == g) for g in np.unique(groups[has])}
        for key, rows in keys.items():
            if rows.sum() < MIN_LAUNCHES:  # too few past launches to call it a norm
                continue
            # 9 decimals: a stage that hardly varies (a prior of many pseudo-trials) still
            # spreads its past launches over distinct values
            out["quantiles"][stage][key] = np.round(np.quantile(rate[rows], grid), 9).tolist()
            out["n"][stage][key] = int(rows.sum())
    return out
