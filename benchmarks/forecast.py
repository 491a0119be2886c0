"""``compass bench forecast``: the GMV curve on out-of-time simulated launches, against the
simulator's exact quantiles (the limit) and a category baseline, at chosen months.

Per month: coverage of the 80 % band (and the share below P10 / above P90), P50's median
absolute percentage error, and the average pinball loss over P10 / P50 / P90 of the model, of
the exact quantiles (``features.simulator.cumulative_gmv_quantiles``) and of the baseline (each
category's P10 / P50 / P90 curve of past launches, known as of the training history's end).
Pinball loss is taken on log(1 + GMV): GMV spans three orders of magnitude across categories, and
in CNY the average is decided by a handful of the largest launches; quantiles are unchanged by
the log, so the exact quantiles stay exact. The CNY figure is reported beside it.

Also the seconds of fitting the curve against the single first-90-day forecast it replaces,
on the same launches in the same run (wall and CPU). Everything here is measured in the run.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from features.simulator import cumulative_gmv_quantiles
from features.spec import DatasetSpec, load_spec
from training import SPECS
from training.dataset import simulated_frame, to_columns
from training.forecast import fit_curve, fit_forecast, known_outcomes, norm_column
from training.train import TrainingConfig, load_config, outcome_of, prepare

MONTHS = (1, 3, 6, 12)
QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
TARGETS = {"coverage": (0.77, 0.83), "pinball_vs_exact": 1.10}


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    """Mean pinball (quantile) loss of quantile-``tau`` predictions ``q`` for outcomes ``y``."""
    d = y - q
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d)))


def mean_pinball(y: np.ndarray, q: dict[str, np.ndarray], log: bool = True) -> float:
    """Pinball loss averaged over P10 / P50 / P90 (on log(1 + y) unless ``log`` is False)."""
    f = np.log1p if log else (lambda v: v)
    return float(np.mean([pinball(f(y), f(q[k]), tau) for k, tau in QUANTILES.items()]))


def category_baseline(
    train: pd.DataFrame, test: pd.DataFrame, spec: DatasetSpec
) -> dict[str, np.ndarray]:
    """Each test launch gets its category's P10 / P50 / P90 of past launches at every horizon
    (as of the training history's end; all categories together for a category never seen):
    {"p10", "p50", "p90"} of shape (test launches, horizons)."""
    by = norm_column(spec)
    known = known_outcomes(train, spec)
    groups = train[by].astype(str).to_numpy() if by else np.zeros(len(train), str)
    wanted = test[by].astype(str).to_numpy() if by else np.zeros(len(test), str)
    taus = list(QUANTILES.values())
    overall = np.nanquantile(known, taus, axis=0)  # (quantiles, horizons)
    out = np.repeat(overall[:, None, :], len(test), axis=1)
    for g in np.unique(groups):
        rows = wanted == g
        if rows.any():
            out[:, rows, :] = np.nanquantile(known[groups == g], taus, axis=0)[:, None, :]
    return {k: out[i] for i, k in enumerate(QUANTILES)}


def horizon_table(
    y: np.ndarray,
    model: dict[str, np.ndarray],
    exact: dict[str, np.ndarray],
    baseline: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One month's row of the table (``y`` the realised cumulative GMV of the test launches)."""
    ok = np.isfinite(y) & (y >= 0)
    y = y[ok]
    model, exact, baseline = ({k: v[ok] for k, v in q.items()} for q in (model, exact, baseline))
    pos = y > 0
    ape = np.abs(model["p50"][pos] - y[pos]) / y[pos]
    losses = {name: mean_pinball(y, q) for name, q in
              (("model", model), ("exact", exact), ("baseline", baseline))}  # fmt: skip
    cny = {name: mean_pinball(y, q, log=False) for name, q in
           (("model", model), ("exact", exact), ("baseline", baseline))}  # fmt: skip
    return {
        "n": int(len(y)),
        "coverage_80": float(np.mean((model["p10"] <= y) & (y <= model["p90"]))),
        "below_p10": float(np.mean(y < model["p10"])),
        "above_p90": float(np.mean(y > model["p90"])),
        "mdape_p50": float(np.median(ape)),
        "exact_coverage_80": float(np.mean((exact["p10"] <= y) & (y <= exact["p90"]))),
        "pinball_log": losses,
        "pinball_vs_exact": losses["model"] / losses["exact"],
        "pinball_vs_baseline": losses["model"] / losses["baseline"],
        "pinball_cny": cny,
        "pinball_cny_vs_exact": cny["model"] / cny["exact"],
    }


def _timed(work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return out, {
        "wall": round(time.perf_counter() - wall, 2),
        "cpu": round(time.process_time() - cpu, 2),
    }


def run(
    sim_rows: int = 20_000,
    sim_seed: int = 7,
    months: tuple[int, ...] = MONTHS,
    config: TrainingConfig | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The benchmark: simulate, split out of time as training does, fit the curve (and, for
    the seconds, the single forecast) on the training period, measure on the test period."""
    config = config or load_config()
    spec = load_spec(SPECS / "simulated.yaml")
    columns = dict(spec.horizons())
    wanted = {k: f"gmv_{30 * k}d" for k in months}
    if missing := [c for c in wanted.values() if c not in columns]:
        raise ValueError(f"the simulated spec has no horizon {', '.join(missing)}")
    started = time.perf_counter()
    say(f"simulating {sim_rows} launches (seed {sim_seed})")
    prep = prepare(simulated_frame(sim_rows, sim_seed, spec), spec)
    params = dict(config.lightgbm)
    say(f"fitting the curve on {len(prep.train)} training launches")
    curve, curve_seconds = _timed(lambda: fit_curve(prep.x, prep.train, prep.fb, params))
    say("fitting the single first-90-day forecast it replaces (for the seconds)")
    outcome = outcome_of(prep.train, spec)
    _, single_seconds = _timed(lambda: fit_forecast(prep.x, outcome, prep.fb, params))
    test = prep.test
    x_test = prep.fb.transform(to_columns(test, spec))
    predicted = curve.curve(x_test)
    say(f"exact quantiles of {len(test)} test launches at months {list(months)}")
    exact_q, exact_seconds = _timed(lambda: cumulative_gmv_quantiles(test, list(months)))
    baseline = category_baseline(prep.train, test, spec)
    at = {c: j for j, (c, _) in enumerate(spec.horizons())}
    table: dict[str, Any] = {}
    for i, k in enumerate(months):
        column = wanted[k]
        y = pd.to_numeric(test[column], errors="coerce").to_numpy(float)
        table[str(k)] = {"column": column} | horizon_table(
            y,
            {q: v[:, at[column]] for q, v in predicted.items()},
            {q: exact_q[:, i, j] for j, q in enumerate(QUANTILES)},
            {q: v[:, at[column]] for q, v in baseline.items()},
        )
    lo, hi = TARGETS["coverage"]
    return {
        "command": "compass bench forecast",
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "setup": {
            "rows": sim_rows,
            "seed": sim_seed,
            "train": len(prep.train),
            "test": len(test),
            "test_period": [
                str(test["launch_day"].min().date()),
                str(test["launch_day"].max().date()),
            ],
            "horizons": len(columns),
            "pinball_scale": "log(1 + GMV), averaged over P10 / P50 / P90",
            "baseline": "the category's P10 / P50 / P90 curve of past launches",
        },
        "months": table,
        "offsets": {
            c: [round(lo_, 4), round(up, 4)]
            for (c, _), lo_, up in zip(
                curve.horizons, curve.lower_offsets, curve.upper_offsets, strict=True
            )
        },
        "targets": {
            "coverage_77_83_every_month": all(lo <= r["coverage_80"] <= hi for r in table.values()),
            "pinball_within_10pct_of_exact_every_month": all(
                r["pinball_vs_exact"] <= TARGETS["pinball_vs_exact"] for r in table.values()
            ),
            "pinball_beats_baseline_every_month": all(
                r["pinball_vs_baseline"] < 1.0 for r in table.values()
            ),
        },
        "seconds": {
            "fit_curve": curve_seconds,
            "fit_single_forecast": single_seconds,
            "exact_quantiles": exact_seconds,
            "total": round(time.perf_counter() - started, 1),
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The table docs/benchmarks.md shows."""
    s = result["setup"]
    lines = [
        f"{s['train']} training / {s['test']} out-of-time test launches (simulated, seed "
        f"{s['seed']}, test {s['test_period'][0]} to {s['test_period'][1]}); pinball on "
        f"{s['pinball_scale']}.",
        "",
        "| month | coverage of the 80 % band | below P10 | above P90 | P50 median APE "
        "| pinball model | pinball exact | model / exact | pinball baseline | model / baseline "
        "| CNY model / exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, r in result["months"].items():
        p = r["pinball_log"]
        lines.append(
            f"| {k} | {r['coverage_80']:.3f} | {r['below_p10']:.3f} | {r['above_p90']:.3f} | "
            f"{r['mdape_p50']:.3f} | {p['model']:.4f} | {p['exact']:.4f} | "
            f"{r['pinball_vs_exact']:.3f} | {p['baseline']:.4f} | {r['pinball_vs_baseline']:.3f} "
            f"| {r['pinball_cny_vs_exact']:.3f} |"
        )
    sec = result["seconds"]
    lines += [
        "",
        f"Fitting the curve: {sec['fit_curve']['wall']} s wall / {sec['fit_curve']['cpu']} s CPU; "
        f"the single first-90-day forecast it replaces: {sec['fit_single_forecast']['wall']} s "
        f"wall / {sec['fit_single_forecast']['cpu']} s CPU (same launches, same run).",
        "",
        "Targets: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["targets"].items()),
    ]
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
