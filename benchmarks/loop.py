"""``compass bench loop``: the whole outcomes loop on the simulator, which knows the truth.

Through the real commands and a real ``bentoml serve``, in a state folder of its own:

train on history (``compass train``) -> export and serve the champion -> score cohort 1 over
HTTP -> record its outcomes (``POST /outcomes``) -> ``compass monitor`` -> score cohort 2 with
the old champion -> ``compass train --with-outcomes`` (the gate included) -> export and reload
-> score cohort 2 again.

The history ends today and the cohorts launch after it, so every answer is logged before its
concept's launch, as in real use (the monitor's join takes only such answers). Two scenarios:

* **no drift** (several seeds): the cohorts come from the history's world; the monitor should
  name no drifted field, and live accuracy should agree with the test metrics of training;
* **drift**: the cohorts come from a changed world (:data:`DRIFT`: more launches for two
  segments, inflated prices, three categories whose hit rates moved). The monitor should name
  the drifted fields; cohort 2's log-loss regret against that world's Bayes limit (the
  simulator's exact probability) is measured for the old champion and for the retrained one.

Everything in the output is measured in the run; the targets are reported, not asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from benchmarks.serve import REPO, bench_env, running_hit_compass
from features.simulator import Drift, simulate
from features.spec import load_spec
from training import DEFAULT_SPEC

DRIFT = Drift(
    segment_mix={"gen_z": 4.0, "urban_silver": 4.0},
    price_inflation=1.6,
    base_rates={"snacks": 0.25, "skincare": 0.20, "pet": 0.05},
)
REGRET_SHRINK_TARGET = 0.5  # retrained regret at most half the old champion's (issue 12)
HISTORY_YEARS, COHORT_DAYS = 4, 183
CHUNK = 1_000  # concepts per request


@dataclass(frozen=True)
class Scale:
    history: int  # launches in the training history
    cohort1: int  # scored, then its outcomes recorded and trained on
    cohort2: int  # scored by the old and the retrained champion
    no_drift_seeds: tuple[int, ...]
    drift_seed: int
    # `compass train --params`: None trains with config.yaml (and any tuned params) as a user's
    # would; the small scale fixes quick params and blend choices, its trains being the test's
    # slowest part and their skill not what it checks
    params: dict[str, Any] | None = None


# quick LightGBM params and fixed blend choices (no grid search over the linear part)
QUICK_PARAMS = {
    "params": {"learning_rate": 0.3, "num_leaves": 7, "num_threads": 1},
    "blend": {"C": 1.0, "lgbm_half_life": None, "linear_half_life": None},
}


SCALES = {
    "full": Scale(20_000, 20_000, 5_000, (7, 11, 13), 7),
    # the end-to-end test: mechanics, not statistics
    "small": Scale(3_000, 1_500, 600, (), 7, QUICK_PARAMS),
}


@dataclass(frozen=True)
class Cohorts:
    history: pd.DataFrame
    cohort1: pd.DataFrame
    cohort2: pd.DataFrame


def cohorts(scale: Scale, seed: int, drift: Drift, today: dt.date) -> Cohorts:
    """History over the last years up to today; cohort 1 launching over the next half year,
    cohort 2 over the half year after (both from ``drift``'s world)."""
    start = today - dt.timedelta(days=365 * HISTORY_YEARS)
    c1 = today + dt.timedelta(days=1)
    c2 = c1 + dt.timedelta(days=COHORT_DAYS)
    end = c2 + dt.timedelta(days=COHORT_DAYS)
    return Cohorts(
        simulate(scale.history, seed, str(start), str(today)),
        simulate(scale.cohort1, seed + 1_000, str(c1), str(c2), drift),
        simulate(scale.cohort2, seed + 2_000, str(c2), str(end), drift),
    )


class Workspace:
    """One scenario's state folder (MLflow, BentoML store, prediction log), and the commands
    run against it, each a ``compass`` process as a user would run it."""

    def __init__(self, folder: Path, say: Callable[[str], None]) -> None:
        self.folder, self.say = folder, say
        self.env = bench_env(
            {
                "HIT_COMPASS_STATE": str(folder / "state"),
                "BENTOML_HOME": str(folder / "bentoml"),
                "HIT_COMPASS_ACCESS_LOG": "false",
                "HIT_COMPASS_URL": "",  # `compass export` reloads only the server named here
            }
        )
        for var in ("MLFLOW_TRACKING_URI", "HIT_COMPASS_MODEL"):
            self.env.pop(var, None)

    def compass(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "compass.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        self.say(
            f"  compass {' '.join(args)}: exit {done.returncode}, "
            f"{time.monotonic() - started:.0f} s"
        )
        if done.returncode not in ok:
            raise RuntimeError(
                f"compass {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done

    def train(self, history: Path, *extra: str) -> dict[str, Any]:
        out = self.compass("train", "--data", str(history), *extra).stdout
        return json.loads(out[out.index("{") :])

    def export(self, reload_url: str = "") -> str:
        return self.compass("export", "--reload-url", reload_url).stdout.splitlines()[0]

    def monitor(self) -> tuple[int, dict[str, Any]]:
        out = self.folder / "monitor"
        done = self.compass("monitor", "-o", str(out), ok=(0, 3))
        return done.returncode, json.loads((out / "monitor.json").read_text())


# ---- over HTTP --------------------------------------------------------------------------------
def api_concepts(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = frame[columns].copy()
    out["launch_date"] = out["launch_date"].dt.strftime("%Y-%m-%d")
    return out.to_dict("records")


def api_outcomes(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame[["concept_id", "launch_date", "hit", "gmv_90d"]].copy()
    out["launch_date"] = out["launch_date"].dt.strftime("%Y-%m-%d")
    return out.to_dict("records")


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def score(url: str, concepts: list[dict[str, Any]]) -> tuple[np.ndarray, set[str]]:
    """Hit probabilities (in order) and the model versions that answered."""
    p: list[float] = []
    versions: set[str] = set()
    with httpx.Client(base_url=url, timeout=120) as client:
        for chunk in _chunks(concepts):
            r = client.post("/score", json={"concepts": chunk, "explain": False})
            r.raise_for_status()
            p += [a["hit_probability"] for a in r.json()]
            versions |= {a["model_version"] for a in r.json()}
    return np.asarray(p), versions


def record(url: str, outcomes: list[dict[str, Any]]) -> dict[str, int]:
    totals = {"recorded": 0, "duplicates": 0, "unmatched": 0}
    with httpx.Client(base_url=url, timeout=120) as client:
        for chunk in _chunks(outcomes):
            r = client.post("/outcomes", json={"outcomes": chunk})
            r.raise_for_status()
            for k in totals:
                totals[k] += r.json()[k]
    return totals


# ---- scenarios --------------------------------------------------------------------------------
def regret(frame: pd.DataFrame, p: np.ndarray) -> float:
    """Log loss above the world's Bayes limit (the simulator's exact probability), same rows."""
    y = frame["hit"].to_numpy()
    return float(log_loss(y, p, labels=[0, 1]) - log_loss(y, frame["p_hit_bayes"], labels=[0, 1]))


def run_scenario(
    folder: Path,
    scale: Scale,
    seed: int,
    drift: Drift | None,
    today: dt.date,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One loop; with ``drift`` None the cohorts come from the history's world and the loop
    stops after the monitor (nothing to learn from them)."""
    folder.mkdir(parents=True)
    work = Workspace(folder, say)
    data = cohorts(scale, seed, drift or Drift(), today)
    history = folder / "history.parquet"
    data.history.drop(columns="p_hit_bayes").to_parquet(history, index=False)
    columns = ["concept_id", *load_spec(DEFAULT_SPEC).input_columns()]
    params: tuple[str, ...] = ()
    if scale.params is not None:
        (folder / "params.json").write_text(json.dumps(scale.params))
        params = ("--params", str(folder / "params.json"))
    first = work.train(history, *params)
    old = first["version"]
    work.export()
    out: dict[str, Any] = {"seed": seed, "champion": old, "test_metrics": first["test_metrics"]}
    with running_hit_compass(work.env, folder) as server:
        say(f"  serving version {old} at {server.url}")
        p1, answered = score(server.url, api_concepts(data.cohort1, columns))
        out["cohort1"] = {
            "n": len(p1),
            "answered_by": sorted(answered),
            "auc": float(roc_auc_score(data.cohort1["hit"], p1)),
            "regret": regret(data.cohort1, p1),
            "bayes_auc": float(roc_auc_score(data.cohort1["hit"], data.cohort1["p_hit_bayes"])),
        }
        out["outcomes"] = record(server.url, api_outcomes(data.cohort1))
        exit_code, summary = work.monitor()
        out["monitor"] = _monitor_view(exit_code, summary)
        if drift is None:
            return out
        before, _ = score(server.url, api_concepts(data.cohort2, columns))
        second = work.train(history, "--with-outcomes", *params)
        out["retrained"] = {
            "version": second["version"],
            "rows_added": second["data_report"].get("scored_with_outcomes", 0),
            "gate": second["promotion"],
        }
        if second["promotion"]["promoted"]:
            say(f"  reload: {work.export(server.url)}")
        after, answered = score(server.url, api_concepts(data.cohort2, columns))
    out["cohort2"] = {
        "n": len(after),
        "answered_by": sorted(answered),
        "regret_before": regret(data.cohort2, before),
        "regret_after": regret(data.cohort2, after),
        "auc_before": float(roc_auc_score(data.cohort2["hit"], before)),
        "auc_after": float(roc_auc_score(data.cohort2["hit"], after)),
        "bayes_auc": float(roc_auc_score(data.cohort2["hit"], data.cohort2["p_hit_bayes"])),
    }
    return out


def _monitor_view(exit_code: int, summary: dict[str, Any]) -> dict[str, Any]:
    live = summary["live"] or {}
    return {
        "exit_code": exit_code,
        "alarms": summary["alarms"],
        "acted_fields": [d["field"] for d in summary["drift"] if d["level"] == "act"],
        "psi": {d["field"]: d["psi"] for d in summary["drift"]},
        "matched": summary["outcomes_matched"],
        "live": {k: live.get(k) for k in ("n", "auc", "auc_ci", "logloss", "logloss_ci")},
        "trained": summary["trained"],
    }


def run(scale_name: str = "full", say: Callable[[str], None] = print) -> dict[str, Any]:
    scale = SCALES[scale_name]
    today = dt.date.today()
    started = time.monotonic()
    result: dict[str, Any] = {
        "scale": {"name": scale_name, **asdict(scale)},
        "today": str(today),
        "drift_scenario": {
            "segment_mix": DRIFT.segment_mix,
            "price_inflation": DRIFT.price_inflation,
            "base_rates": DRIFT.base_rates,
        },
        "machine": _machine(),
    }
    with tempfile.TemporaryDirectory(prefix="hit-compass-loop-") as tmp:
        runs = []
        for seed in scale.no_drift_seeds:
            say(f"no drift, seed {seed}")
            runs.append(run_scenario(Path(tmp) / f"no-drift-{seed}", scale, seed, None, today, say))
        say(f"drift, seed {scale.drift_seed}")
        drifted = run_scenario(Path(tmp) / "drift", scale, scale.drift_seed, DRIFT, today, say)
    result["no_drift"] = {
        "seeds": list(scale.no_drift_seeds),
        # a drift alarm where nothing drifted: a field (or the answers) past PSI 0.25
        "false_alarms": sum(len(r["monitor"]["acted_fields"]) for r in runs),
        "live_auc": [r["monitor"]["live"]["auc"] for r in runs],
        "live_auc_ci": [r["monitor"]["live"]["auc_ci"] for r in runs],
        "train_auc": [r["test_metrics"]["auc"] for r in runs],
        "train_auc_within_live_ci": [
            _within(r["test_metrics"]["auc"], r["monitor"]["live"]["auc_ci"]) for r in runs
        ],
        "live_logloss": [r["monitor"]["live"]["logloss"] for r in runs],
        "train_logloss": [r["test_metrics"]["logloss"] for r in runs],
        # log loss also moves with a period's hit rate, not only with how right the model is
        "train_logloss_within_live_ci": [
            _within(r["test_metrics"]["logloss"], r["monitor"]["live"]["logloss_ci"]) for r in runs
        ],
        "runs": runs,
    }
    c2 = drifted["cohort2"]
    result["drift"] = {
        "drifted_fields": DRIFT.drifted_fields(),
        "flagged_fields": drifted["monitor"]["acted_fields"],
        "regret_before": c2["regret_before"],
        "regret_after": c2["regret_after"],
        "regret_ratio": c2["regret_after"] / c2["regret_before"],
        "regret_target": f"regret_after <= {REGRET_SHRINK_TARGET} x regret_before",
        "run": drifted,
    }
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def _within(x: float, ci: list[float] | None) -> bool | None:
    return None if not ci else bool(ci[0] <= x <= ci[1])


def _machine() -> dict[str, Any]:
    import platform

    return {
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "load_avg_1m_at_start": os.getloadavg()[0],
    }


def markdown(result: dict[str, Any]) -> str:
    nd, d = result["no_drift"], result["drift"]
    lines = [
        f"| scenario | measured ({result['scale']['name']} scale, {result['today']}) |",
        "|---|---|",
        f"| no drift: seeds | {', '.join(map(str, nd['seeds']))} |",
        f"| no drift: false drift alarms | {nd['false_alarms']} |",
        "| no drift: live AUC [95 % CI] vs training's test AUC | "
        + "; ".join(
            f"{a:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] vs {t:.4f}"
            for a, ci, t in zip(nd["live_auc"], nd["live_auc_ci"], nd["train_auc"], strict=True)
        )
        + " |",
        "| no drift: live log loss vs training's test | "
        + "; ".join(
            f"{a:.4f} vs {t:.4f}"
            for a, t in zip(nd["live_logloss"], nd["train_logloss"], strict=True)
        )
        + " |",
        f"| drift: drifted fields | {', '.join(d['drifted_fields'])} |",
        f"| drift: fields the monitor flagged (PSI >= 0.25) | {', '.join(d['flagged_fields'])} |",
        f"| drift: cohort 2 regret, old champion | {d['regret_before']:.4f} |",
        f"| drift: cohort 2 regret, retrained on outcomes | {d['regret_after']:.4f} "
        f"(x{d['regret_ratio']:.2f}) |",
    ]
    return "\n".join(lines) + "\n"
