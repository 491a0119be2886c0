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
* :func:`summarise` and :func:`markdown`: all of it for one model version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from features.columns import from_records
from features.profile import MIN_ROWS, PSI_ACT, PSI_WATCH, FieldDrift, psi
from models.hit_model import HitModel
from training.evaluate import expected_calibration_error, reliability_table

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
    out = {}
    for version, rows in matched.groupby("model_version", sort=True):
        y = rows["label"].to_numpy(int)
        p = np.clip(rows["hit_probability"].to_numpy(float), 1e-6, 1 - 1e-6)
        out[str(version)] = {
            "n": len(y),
            "hit_rate": float(y.mean()),
            "mean_predicted": float(p.mean()),
            **_with_intervals(y, p, n_boot, seed),
            "reliability": reliability_table(y, p),
            "bands": band_check(rows["band"].to_numpy(object), y),
        }
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
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)] if both else []
    for name, fn in METRICS.items():
        if name == "auc" and not both:
            out[name], out[f"{name}_ci"] = None, None
            continue
        out[name] = float(fn(y, p))
        vals = [fn(y[i], p[i]) for i in draws if y[i].min() != y[i].max()]
        out[f"{name}_ci"] = [float(v) for v in np.percentile(vals, [2.5, 97.5])] if vals else None
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
    """What crossed a threshold: a field (or the answers) drifted past PSI 0.25, or the live log
    loss is worse than training's out-of-time test promised even at its interval's best."""
    out = [f"{d.field}: PSI {d.psi:.3f} >= {PSI_ACT}" for d in drift if d.level == "act"]
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


def summarise(
    model: HitModel,
    version: str,
    said: pd.DataFrame,
    outcomes: pd.DataFrame,
    promised_logloss: float | None = None,
    n_boot: int = 500,
) -> dict[str, Any]:
    """Everything the monitor reports for one model version: input and prediction drift of the
    concepts it scored, live metrics where outcomes came back, and the alarms."""
    mine = said[said["endpoint"].isin(SCORING_ENDPOINTS) & (said["model_version"] == version)]
    # the log is shared: the same version number of another spec's model, or rows that are no
    # concepts of this spec, are not this model's answers
    fits = np.array([_fits(model, i) for i in mine["inputs"]], dtype=bool)
    skipped, mine = int((~fits).sum()), mine[fits] if len(mine) else mine
    drift = (
        model.input_drift(from_records(mine["inputs"].tolist(), model.spec)) if len(mine) else []
    )
    answered = prediction_drift(model.norms, mine["hit_probability"].to_numpy(float))
    fields = [*drift, *([answered] if answered is not None else [])]
    joined = join_outcomes(said, outcomes) if len(outcomes) else Joined(said.iloc[:0], [])
    live = live_metrics(joined.matched[joined.matched["model_version"] == version], n_boot)
    mine_live = live.get(version)
    return {
        "model_version": version,
        "scored": len(mine),
        "skipped_other_inputs": skipped,
        "outcomes_matched": len(joined.matched),
        "outcomes_unmatched": len(joined.unmatched),
        "drift": [asdict(d) for d in fields],
        "live": mine_live,
        "promised_logloss": promised_logloss,
        "alarms": alarms(fields, mine_live, promised_logloss),
    }


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a short Markdown report."""
    lines = [
        f"# Monitor: model version {summary['model_version']}",
        "",
        f"{summary['scored']} concepts scored; {summary['outcomes_matched']} outcomes matched to "
        f"an answer before launch, {summary['outcomes_unmatched']} unmatched.",
        "",
        "| field | PSI | concepts | level |",
        "|---|---|---|---|",
    ]
    for d in summary["drift"]:
        value = "–" if d["psi"] is None else f"{d['psi']:.3f}"
        lines.append(f"| {d['field']} | {value} | {d['n']} | {d['level']} |")
    live = summary["live"]
    if live:
        lines += ["", "| metric | live | 95 % interval |", "|---|---|---|"]
        for name in METRICS:
            ci = live.get(f"{name}_ci")
            shown = "–" if live[name] is None else f"{live[name]:.4f}"
            lines.append(
                f"| {name} | {shown} | {'–' if not ci else f'{ci[0]:.4f} – {ci[1]:.4f}'} |"
            )
        lines += ["", "| band | concepts | became hits | 95 % interval |", "|---|---|---|---|"]
        for band, b in live["bands"].items():
            rate = "–" if b["hit_rate"] is None else f"{b['hit_rate']:.3f}"
            ci = "–" if b["low"] is None else f"{b['low']:.3f} – {b['high']:.3f}"
            lines.append(f"| {band} | {b['n']} | {rate} | {ci} |")
    lines += ["", "**Alarms:** " + ("; ".join(summary["alarms"]) or "none")]
    return "\n".join(lines) + "\n"


def _fits(model: HitModel, concept: dict[str, Any]) -> bool:
    try:
        model.concept_schema.model.model_validate(concept)
    except ValidationError:
        return False
    return True
