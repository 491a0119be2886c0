"""Was the compass right? Outcomes joined with what the model said before each launch.

Pure functions on frames, so the storage (the prediction log and the outcome table) and the
report around them stay thin:

* :func:`join_outcomes`: per concept, its latest recorded outcome (a correction is a newer row)
  and the last scoring answer logged strictly before its launch day (an answer given after the
  launch could have seen the outcome coming); outcomes with no such answer are unmatched;
* :func:`live_metrics`: per model version, AUC, log loss, Brier and ECE with bootstrap
  intervals, the reliability table, and the band check: how often concepts called go / refine /
  stop became hits;
* :func:`prediction_drift`: PSI of recent answers against the training launches' out-of-fold
  scores (deciles from the norms the model carries); input drift per field is the model's own
  (``HitModel.input_drift``, bins frozen at training);
* :func:`alarms`: which thresholds a summary crossed (the command's exit code);
* :func:`horizon_check`: for a forecast over time (the GMV curve), per horizon, coverage of the
  80 % interval and P50's error on the launches old enough to have that horizon's outcome;
* :func:`summarise` and :func:`markdown`: all of it for one model version;
* :func:`run_monitor`: the job (``compass monitor``, the loop benchmark): reads the log and the
  outcomes, writes the report with its plots, logs a monitoring run to MLflow and leaves the
  summary where the service finds it (``GET /monitor``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the monitor runs headless, on a schedule

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score  # noqa: E402

from core.settings import monitor_summary_path  # noqa: E402
from features.columns import from_records  # noqa: E402
from features.profile import MIN_ROWS, PSI_ACT, PSI_WATCH, FieldDrift, psi  # noqa: E402
from models.curve import CurveForecast  # noqa: E402
from models.hit_model import HitModel  # noqa: E402
from scoring.outcomes import OutcomeStore  # noqa: E402
from scoring.prediction_log import COLUMNS, PredictionLog, default_location, exists, shown  # noqa: E402
from scoring.store import model_name_for  # noqa: E402
from training import evaluate, registry  # noqa: E402
from training.dataset import to_columns  # noqa: E402
from training.evaluate import (  # noqa: E402
    bootstrap_ci,
    expected_calibration_error,
    reliability_table,
)

# a text field's share of unseen n-grams this much above training's: an alarm (new words,
# another language: its text score says less than it did)
UNSEEN_RISE = 0.2
SCORING_ENDPOINTS = ("score", "batch")  # answers that say how likely a concept is, as sent
BANDS = ("go", "refine", "stop")


@dataclass(frozen=True)
class Joined:
    matched: pd.DataFrame  # one row per concept: its last answer before launch and its outcome
    unmatched: list[str]  # concepts with an outcome but no answer before their launch


def join_outcomes(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> Joined:
    """``predictions``: concept_id, logged_at, endpoint, model_version, hit_probability, band;
    ``outcomes``: concept_id, launch_date, label, recorded_at (several rows per concept: the
    latest counts)."""
    latest = (
        outcomes.assign(recorded_at=pd.to_datetime(outcomes["recorded_at"], utc=True))
        .sort_values("recorded_at", kind="stable")
        .groupby("concept_id", as_index=False)
        .last()
    )
    latest["launch_at"] = pd.to_datetime(latest["launch_date"], utc=True)
    said = predictions[predictions["endpoint"].isin(SCORING_ENDPOINTS)].assign(
        logged_at=lambda f: pd.to_datetime(f["logged_at"], utc=True)
    )
    both = said.merge(latest[["concept_id", "launch_at", "label"]], on="concept_id")
    before = both[both["logged_at"] < both["launch_at"]]
    last = before.sort_values("logged_at", kind="stable").groupby("concept_id").tail(1)
    unmatched = sorted(set(latest["concept_id"]) - set(last["concept_id"]))
    return Joined(last.sort_values("concept_id").reset_index(drop=True), unmatched)


def live_metrics(
    matched: pd.DataFrame, n_boot: int = 500, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per model version: how right the answers were (95 % bootstrap intervals)."""
    return {
        str(version): _live(rows, n_boot, seed)
        for version, rows in matched.groupby("model_version", sort=True)
    }


def live_by_period(
    matched: pd.DataFrame, n_boot: int = 500, seed: int = 0, yearly: bool = False
) -> dict[str, dict[str, Any]]:
    """The same per launch period: the calendar quarter of the actual launch (``2027Q1``), or
    the year for a spec whose dates are years (every launch would fall in Q1)."""
    if matched.empty:
        return {}
    launch = pd.to_datetime(matched["launch_at"], utc=True)
    period = launch.dt.year.astype(str)
    if not yearly:
        period = period + "Q" + launch.dt.quarter.astype(str)
    return {
        str(key): _live(rows, n_boot, seed, reliability=False)
        for key, rows in matched.groupby(period.to_numpy(), sort=True)
    }


def _live(rows: pd.DataFrame, n_boot: int, seed: int, reliability: bool = True) -> dict[str, Any]:
    y = rows["label"].to_numpy(int)
    p = np.clip(rows["hit_probability"].to_numpy(float), 1e-6, 1 - 1e-6)
    out = {
        "n": len(y),
        "hit_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        **_with_intervals(y, p, n_boot, seed),
    }
    if reliability:  # ten bins per quarter would be noise
        out["reliability"] = reliability_table(y, p)
    out["bands"] = band_check(rows["band"].to_numpy(object), y)
    return out


def band_check(bands: np.ndarray, y: np.ndarray) -> dict[str, dict[str, float | int | None]]:
    """Per band: concepts called so, the share that became hits, and its 95 % Wilson interval."""
    out: dict[str, dict[str, float | int | None]] = {}
    for band in BANDS:
        hits = y[bands == band]
        n = len(hits)
        rate = float(hits.mean()) if n else None
        lo, hi = _wilson(int(hits.sum()), n) if n else (None, None)
        out[band] = {"n": n, "hit_rate": rate, "low": lo, "high": hi}
    return out


METRICS = {
    "auc": roc_auc_score,
    "logloss": lambda y, p: log_loss(y, p, labels=[0, 1]),
    "brier": brier_score_loss,
    "ece": expected_calibration_error,
}


def _with_intervals(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """Each metric and its percentile bootstrap interval (None where one class is missing:
    AUC needs both, and a handful of outcomes cannot carry an interval)."""
    both = y.min() != y.max()
    out: dict[str, Any] = {}
    for name, fn in METRICS.items():
        if name == "auc" and not both:
            out[name], out[f"{name}_ci"] = None, None
            continue
        out[name] = float(fn(y, p))
        ci = bootstrap_ci(y, p, name, n_boot, seed) if both else None
        out[f"{name}_ci"] = list(ci) if ci is not None else None
    return out


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (k + z * z / 2) / (n + z * z)
    half = z * np.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return float(centre - half), float(centre + half)


def prediction_drift(
    norms: dict[str, Any] | None, probabilities: np.ndarray, min_rows: int = MIN_ROWS
) -> FieldDrift | None:
    """PSI of recent hit probabilities over the deciles of the training launches' out-of-fold
    scores (None if the model carries no norms)."""
    if not norms or "*" not in norms.get("quantiles", {}):
        return None
    p = np.asarray(probabilities, dtype=float)
    if len(p) < min_rows:
        return FieldDrift("hit_probability", None, len(p), "too few")
    q = np.asarray(norms["quantiles"]["*"], dtype=float)
    edges = np.interp(np.linspace(0.1, 0.9, 9), np.linspace(0.0, 1.0, len(q)), q)
    actual = np.bincount(np.searchsorted(edges, p, side="right"), minlength=10) / len(p)
    value = psi(np.full(10, 0.1), actual)
    level = "act" if value >= PSI_ACT else "watch" if value >= PSI_WATCH else "stable"
    return FieldDrift("hit_probability", value, len(p), level)  # type: ignore[arg-type]


def alarms(
    drift: list[FieldDrift], live: dict[str, Any] | None = None, promised: float | None = None
) -> list[str]:
    """What crossed a threshold: a field (or the answers) drifted past PSI 0.25, a text field's
    texts hold :data:`UNSEEN_RISE` more of n-grams its text model never saw than training's
    did, or the live log loss is worse than training's out-of-time test promised even at its
    interval's best."""
    out = [f"{d.field}: PSI {d.psi:.3f} >= {PSI_ACT}" for d in drift if d.level == "act"]
    for d in drift:
        now, then = d.unseen_ngrams, d.unseen_ngrams_training
        if now is not None and then is not None and now - then >= UNSEEN_RISE:
            out.append(
                f"{d.field}: {now:.0%} of its n-grams never seen in training "
                f"({then:.0%} in training's latest fold): its words moved on"
            )
    if live and promised is not None and live.get("logloss_ci"):
        low = live["logloss_ci"][0]
        if low > promised:
            out.append(
                f"live log loss {live['logloss']:.4f} (interval from {low:.4f}) above the "
                f"{promised:.4f} training's test promised"
            )
    return out


def answers(rows: Iterable[tuple], columns: Sequence[str]) -> pd.DataFrame:
    """Prediction-log rows -> one row per answer, with its inputs (dict), hit probability and
    band pulled out of the logged JSON."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    outputs = [json.loads(o) if str(o).startswith("{") else {} for o in frame["outputs"]]
    frame["inputs"] = [json.loads(i) for i in frame["inputs"]]
    frame["hit_probability"] = [o.get("hit_probability") for o in outputs]
    frame["band"] = [o.get("band") for o in outputs]
    return frame.drop(columns=["outputs"])


OUTCOME_COLUMNS = ["concept_id", "launch_date", "label", "raw", "recorded_at"]


def read_log(log: PredictionLog, spec_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every logged answer (:func:`answers`), and the outcome that counts per concept of the
    spec (:data:`OUTCOME_COLUMNS`)."""
    said = answers([r for chunk in log.rows() for r in chunk], COLUMNS)
    latest = [o._asdict() for o in OutcomeStore(log).latest(spec_name)]
    return said, pd.DataFrame(latest, columns=OUTCOME_COLUMNS)


def summarise(
    model: HitModel,
    version: str,
    said: pd.DataFrame,
    outcomes: pd.DataFrame,
    trained: dict[str, float] | None = None,
    n_boot: int = 500,
    model_name: str | None = None,
    raw_outcomes: dict[str, dict[str, float]] | None = None,
    asof: dt.date | None = None,
) -> dict[str, Any]:
    """Everything the monitor reports for one version of one registered model (``model_name``,
    default the model's spec's): input and prediction drift of the concepts it scored, live
    metrics (overall and per launch period) where outcomes came back, next to ``trained`` (its
    out-of-time test metrics), the forecast per horizon (:func:`horizon_check`, from
    ``raw_outcomes`` as of ``asof``, default today) and the alarms."""
    name = model_name or model_name_for(model.spec.name)
    ours, other_models, unfit = answers_of(name, said, functools.partial(_fits, model))
    mine = ours[ours["model_version"] == version]
    drift = (
        model.input_drift(from_records(mine["inputs"].tolist(), model.spec)) if len(mine) else []
    )
    answered = prediction_drift(model.norms, mine["hit_probability"].to_numpy(float))
    fields = [*drift, *([answered] if answered is not None else [])]
    # only this model's answers: a concept id scored by another spec's model is not a match
    joined = join_outcomes(ours, outcomes) if len(outcomes) else Joined(ours.iloc[:0], [])
    matched = joined.matched[joined.matched["model_version"] == version]
    mine_live = live_metrics(matched, n_boot).get(version)
    trained = {k: trained[k] for k in METRICS if k in trained} if trained else None
    promised = trained.get("logloss") if trained else None
    return {
        "model_name": name,
        "model_version": version,
        "scored": len(mine),
        "skipped_other_models": int((other_models == version).sum()),
        "skipped_other_inputs": int((unfit == version).sum()),
        "outcomes_matched": len(joined.matched),
        "outcomes_unmatched": len(joined.unmatched),
        "drift": [asdict(d) for d in fields],
        "live": mine_live,
        "periods": live_by_period(matched, n_boot, yearly=model.spec.date_is_year),
        "trained": trained,
        "promised_logloss": promised,
        "horizons": horizon_check(
            model, matched, raw_outcomes or {}, asof or dt.datetime.now(dt.UTC).date()
        ),
        "alarms": alarms(fields, mine_live, promised),
    }


# ---- the forecast over time -------------------------------------------------------------------
_NO_CHECK = {"coverage_80": None, "below_p10": None, "above_p90": None, "mdape_p50": None}


def horizon_check(
    model: HitModel, matched: pd.DataFrame, raw: dict[str, dict[str, float]], asof: dt.date
) -> dict[str, dict[str, Any]] | None:
    """Per horizon of the model's curve (None for a model without one): of the concepts
    ``matched`` (scored by this version before launch), those launched at least the horizon
    before ``asof`` whose cumulative outcome there came back (``raw``: concept -> column ->
    value): ``n``, ``coverage_80``, ``below_p10``, ``above_p90`` and ``mdape_p50`` (P50's
    median absolute percentage error); ``waiting``: old enough, no outcome there yet;
    ``too_recent``: not old enough. The curve is the version's own, from the inputs it scored
    (a model answers the same inputs the same way)."""
    fc = model.forecast
    if not isinstance(fc, CurveForecast):
        return None
    ids = matched["concept_id"].astype(str).tolist()
    if not ids:
        return {c: {"days": d, "n": 0, "waiting": 0, "too_recent": 0} | _NO_CHECK
                for c, d in fc.horizons}  # fmt: skip
    curve = fc.curve(model.matrix(from_records(matched["inputs"].tolist(), model.spec)))
    launched = pd.to_datetime(matched["launch_at"], utc=True).dt.date.to_numpy()
    age = np.array([(asof - d).days for d in launched], dtype=float)
    out: dict[str, dict[str, Any]] = {}
    for j, (column, days) in enumerate(fc.horizons):
        y = np.array([raw.get(i, {}).get(column, np.nan) for i in ids], dtype=float)
        old = age >= days
        has = old & np.isfinite(y) & (y >= 0)
        row: dict[str, Any] = {
            "days": days,
            "n": int(has.sum()),
            "waiting": int((old & ~has).sum()),
            "too_recent": int((~old).sum()),
        } | _NO_CHECK
        if has.any():
            yy, lo, mid, hi = y[has], *(curve[k][has, j] for k in ("p10", "p50", "p90"))
            pos = yy > 0
            row |= {
                "coverage_80": float(np.mean((lo <= yy) & (yy <= hi))),
                "below_p10": float(np.mean(yy < lo)),
                "above_p90": float(np.mean(yy > hi)),
                "mdape_p50": float(np.median(np.abs(mid[pos] - yy[pos]) / yy[pos]))
                if pos.any()
                else None,
            }
        out[column] = row
    return out


def _horizon_lines(horizons: dict[str, dict[str, Any]]) -> list[str]:
    """The Markdown section of :func:`horizon_check`'s table."""
    lines = [
        "",
        "## Forecast over time",
        "",
        "| horizon | days | launches | coverage of the 80 % interval | below P10 | above P90 "
        "| P50 median APE | waiting for the outcome | too recent |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for column, h in horizons.items():
        cells = [_num(h[k]) for k in ("coverage_80", "below_p10", "above_p90", "mdape_p50")]
        lines.append(
            f"| {column} | {h['days']} | {h['n']} | "
            + " | ".join(cells)
            + f" | {h['waiting']} | {h['too_recent']} |"
        )
    return lines


def answers_of(
    name: str, said: pd.DataFrame, fits: Callable[[dict[str, Any]], bool]
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Registered model ``name``'s scoring answers (every version); the versions of the answers
    another model gave, and of the unnamed rows (logs from before the ``model`` column) that
    are no concepts of its spec (``fits`` says which are)."""
    scored = said[said["endpoint"].isin(SCORING_ENDPOINTS)]
    named = scored["model"] if "model" in scored else pd.Series(None, index=scored.index)
    unnamed = named.isna().to_numpy()
    ours = unnamed | (named == name).to_numpy()
    # an unnamed row may be another spec's model or a test row: it counts if it fits the spec
    fits = np.array(
        [not u or fits(i) for u, i in zip(unnamed, scored["inputs"], strict=True)],
        dtype=bool,
    )
    versions = scored["model_version"]
    return scored[ours & fits], versions[~ours], versions[ours & ~fits]


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a short Markdown report (plots linked when :func:`write_plots` made
    them)."""
    who = f"{summary.get('model_name', 'model')} version {summary['model_version']}"
    lines = [
        f"# Monitor: {who}",
        "",
        f"{summary['scored']} concepts scored; {summary['outcomes_matched']} outcomes matched to "
        f"an answer before launch, {summary['outcomes_unmatched']} unmatched.",
        "",
        "## Drift",
        "",
        "| field | PSI | concepts | level |",
        "|---|---|---|---|",
    ]
    for d in summary["drift"]:
        value = "–" if d["psi"] is None else f"{d['psi']:.3f}"
        lines.append(f"| {d['field']} | {value} | {d['n']} | {d['level']} |")
    texts = [d for d in summary["drift"] if d.get("unseen_ngrams") is not None]
    if texts:
        lines += [
            "",
            "Text fields (PSI above: of the text score): share of n-grams the text model never "
            "saw, recent concepts vs training's latest fold:",
            "",
            "| field | unseen n-grams | in training |",
            "|---|---|---|",
        ]
        for d in texts:
            then = d.get("unseen_ngrams_training")
            shown = "–" if then is None else f"{then:.1%}"
            lines.append(f"| {d['field']} | {d['unseen_ngrams']:.1%} | {shown} |")
    live, trained = summary["live"], summary.get("trained") or {}
    lines += ["", "## Live accuracy"]
    if not live:
        lines += ["", "No outcomes matched to this version's answers yet."]
    if live or trained:
        lines += ["", "| metric | live | 95 % interval | training's test |", "|---|---|---|---|"]
        for name in METRICS:
            value = live.get(name) if live else None
            ci = live.get(f"{name}_ci") if live else None
            lines.append(
                f"| {name} | {_num(value)} | {'–' if not ci else f'{ci[0]:.4f} – {ci[1]:.4f}'} "
                f"| {_num(trained.get(name))} |"
            )
    if live:
        lines += ["", "| band | concepts | became hits | 95 % interval |", "|---|---|---|---|"]
        for band, b in live["bands"].items():
            rate = "–" if b["hit_rate"] is None else f"{b['hit_rate']:.3f}"
            ci = "–" if b["low"] is None else f"{b['low']:.3f} – {b['high']:.3f}"
            lines.append(f"| {band} | {b['n']} | {rate} | {ci} |")
    if summary.get("periods"):
        lines += [
            "",
            "### Per launch period",
            "",
            "| period | concepts | hit rate | mean predicted | auc | logloss | brier | ece |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for period, m in summary["periods"].items():
            cells = [_with_ci(m[k], m[f"{k}_ci"]) for k in METRICS]
            lines.append(
                f"| {period} | {m['n']} | {m['hit_rate']:.3f} | {m['mean_predicted']:.3f} | "
                + " | ".join(cells)
                + " |"
            )
    if summary.get("horizons"):
        lines += _horizon_lines(summary["horizons"])
    if "plots" in summary:
        lines += ["", "## Plots", ""]
        for name, plot in summary["plots"].items():
            title = PLOTS[name]
            shown = f"![{title}]({plot['file']})" if plot["file"] else f"*{title}: {plot['why']}.*"
            lines += [shown, ""]
    if "plots" not in summary:
        lines.append("")
    lines.append("**Alarms:** " + ("; ".join(summary["alarms"]) or "none"))
    return "\n".join(lines) + "\n"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _with_ci(x: float | None, ci: list[float] | None) -> str:
    return _num(x) if not ci else f"{x:.3f} ({ci[0]:.3f} – {ci[1]:.3f})"


PLOTS = {
    "reliability": "Reliability diagram (live)",
    "drift": "Drift per field (PSI)",
    "bands": "Band hit rates",
}


def write_plots(summary: dict[str, Any], out: Path) -> dict[str, dict[str, str | None]]:
    """The report's PNGs in ``out``: per plot its file name, or why there is none."""
    live = summary["live"]
    drifted = [d for d in summary["drift"] if d["psi"] is not None]
    bands = {k: b for k, b in (live or {}).get("bands", {}).items() if b["n"]}
    made = {
        "reliability": _plot_reliability(live, out) if live else "no outcomes matched yet",
        "drift": _plot_drift(drifted, out) if drifted else "too few concepts scored in any field",
        "bands": _plot_bands(bands, out) if bands else "no outcomes matched yet",
    }
    for name, r in made.items():
        if not isinstance(r, Path):  # a plot from an earlier run would look like this one's
            (out / f"{name}.png").unlink(missing_ok=True)
    return {
        name: {"file": r.name, "why": None} if isinstance(r, Path) else {"file": None, "why": r}
        for name, r in made.items()
    }


def _plot_reliability(live: dict[str, Any], out: Path) -> Path:
    pred = [r["mean_predicted"] for r in live["reliability"]]
    obs = [r["observed_rate"] for r in live["reliability"]]
    top = max(*pred, *obs) * 1.05
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, top], [0, top], "k:", lw=0.8, label="perfect")
    ax.plot(pred, obs, "o-", label=f"live ({live['n']} outcomes, equal-count bins)")
    ax.set(
        xlabel="mean predicted P(hit)",
        ylabel="observed hit rate",
        title=f"Reliability (live), ECE {live['ece']:.3f}",
    )
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, out / "reliability.png")


def _plot_drift(drift: list[dict[str, Any]], out: Path) -> Path:
    colour = {"stable": "tab:green", "watch": "tab:orange", "act": "tab:red"}
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(drift) + 1.5))
    ax.barh(
        [d["field"] for d in drift],
        [d["psi"] for d in drift],
        color=[colour.get(d["level"], "grey") for d in drift],
    )
    ax.axvline(PSI_WATCH, color="tab:orange", ls="--", lw=1, label=f"watch {PSI_WATCH}")
    ax.axvline(PSI_ACT, color="tab:red", ls="--", lw=1, label=f"act {PSI_ACT}")
    ax.invert_yaxis()
    ax.set(xlabel="population stability index", title="Drift against the training data")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out / "drift.png")


def _plot_bands(bands: dict[str, dict[str, Any]], out: Path) -> Path:
    names = list(bands)
    rate = np.array([bands[b]["hit_rate"] for b in names])
    err = np.array(
        [[r - bands[b]["low"], bands[b]["high"] - r] for b, r in zip(names, rate, strict=True)]
    ).T
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.bar([f"{b}\n(n={bands[b]['n']})" for b in names], rate, yerr=err, capsize=6)
    ax.set(ylabel="became hits (95 % Wilson interval)", title="Band hit rates (live)")
    return _save(fig, out / "bands.png")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


class NothingToMonitor(LookupError):
    """No champion (or version) to monitor, or no prediction log yet."""


def run_monitor(
    model_name: str, version: str | None, out: Path, n_boot: int = 500
) -> dict[str, Any]:
    """Monitor one version (default: the champion) of a registered model: the summary
    (:func:`summarise`) with ``mlflow_run_id``, ``plots`` and ``paths`` added. Writes
    ``out``/monitor.md, monitor.json and the plots, logs them to a run of MLflow's
    ``hit-compass-monitoring`` experiment, and copies the summary to the state folder for
    ``GET /monitor``. Raises :class:`NothingToMonitor`."""
    version = version or registry.champion_version(model_name)
    if version is None:
        raise NothingToMonitor(f"no champion of {model_name} yet: run `compass train` first")
    if not exists():
        where = shown(default_location())
        raise NothingToMonitor(f"no prediction log at {where} yet: nothing scored")
    model, test = registry.load_version(version, model_name)
    trained = evaluate.score(
        test["label"].to_numpy(), model.predict_proba(to_columns(test, model.spec))
    )
    log = PredictionLog()
    try:
        said, outcomes = read_log(log, model.spec.name)
        raw = OutcomeStore(log).raw_by_concept(model.spec.name)  # every horizon reported
    finally:
        log.close()
    summary = summarise(
        model, version, said, outcomes, trained, n_boot, model_name, raw_outcomes=raw
    )
    out.mkdir(parents=True, exist_ok=True)
    latest = monitor_summary_path(model_name)
    with registry.monitoring_run(model_name, version) as run_id:
        summary["mlflow_run_id"] = run_id
        summary["plots"] = write_plots(summary, out)
        files = [out / "monitor.md", out / "monitor.json"] + [
            out / p["file"] for p in summary["plots"].values() if p["file"]
        ]
        summary["paths"] = {"report": str(files[0]), "json": str(files[1]), "latest": str(latest)}
        files[1].write_text(json.dumps(summary, indent=2) + "\n")
        files[0].write_text(markdown(summary))
        registry.log_monitoring(monitoring_metrics(summary), files)
    # the service may read it at any moment: never a half-written file
    latest.parent.mkdir(parents=True, exist_ok=True)
    partial = latest.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial, latest)
    return summary


def monitoring_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's headline numbers, flat, for MLflow (metrics without a value left out)."""
    live, trained = summary["live"] or {}, summary["trained"] or {}
    psis = [d["psi"] for d in summary["drift"] if d["psi"] is not None]
    out = {
        **{f"live_{k}": live.get(k) for k in METRICS},
        **{f"test_{k}": trained.get(k) for k in METRICS},
        "max_psi": max(psis) if psis else None,
        **{
            "unseen_ngrams_" + re.sub(r"[^A-Za-z0-9_.-]", "_", d["field"]): d["unseen_ngrams"]
            for d in summary["drift"]
            if d.get("unseen_ngrams") is not None
        },
        "alarms": len(summary["alarms"]),
        "n_matched": live.get("n", 0),
        "scored": summary["scored"],
    }
    for column, h in (summary.get("horizons") or {}).items():  # the forecast per horizon
        out |= {f"coverage_80_{column}": h["coverage_80"], f"mdape_p50_{column}": h["mdape_p50"]}
    return {k: float(v) for k, v in out.items() if v is not None}


def _fits(model: HitModel, concept: dict[str, Any]) -> bool:
    try:
        model.concept_schema.model.model_validate(concept)
    except ValidationError:
        return False
    return True
