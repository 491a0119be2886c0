"""``compass bench quality``: the model against every baseline (and the Bayes limit) on simulated,
video-game and Product Hunt launches, with an ablation of the feature families (and, on Product
Hunt, the same spec trained without its text), written as JSON.

Everything here is measured by running the pipeline; nothing is a constant.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from features.build import FeatureBuilder, pair_counts
from features.spec import DatasetSpec, load_spec
from training import SPECS
from training.baselines import evaluate_baselines, model_summary, pick
from training.dataset import day_numbers, load_launches, simulated_frame, to_columns
from training.evaluate import score
from training.forecast import evaluate_forecast
from training.train import (
    TrainingConfig,
    TrainResult,
    blend_calibrator,
    fit_recipe,
    load_config,
    time_folds,
    train_model,
)
from training.tune import tune, tuned_config


# ---- ablation -------------------------------------------------------------------------------
def feature_families(spec: DatasetSpec) -> dict[str, str]:
    """Family -> what removing it means (docs/benchmarks.md explains each)."""
    return {
        "shrunk_count_pairs": "empirical-Bayes rates and lifts replaced by raw successes/trials",
        "raw_counts": "sample sizes (trials) of every count pair dropped",
        "track_records": "entity track-record features dropped ("
        + (", ".join(spec.entities) or "none")
        + ")",
        "funnel": "every count-pair feature dropped (interest funnel and small-sample test)",
    }


def ablate(
    name: str, fb: FeatureBuilder, x: np.ndarray, cols: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[str]] | None:
    """The variant matrix of family ``name`` (None if the spec has no such features)."""
    spec, names = fb.spec, fb.feature_names
    x = x.copy()
    drop: set[str] = set()
    pair_names = [p.name for p in spec.count_pairs]
    if name == "shrunk_count_pairs":
        if not spec.count_pairs:
            return None
        for p in spec.count_pairs:
            (succ,), (trials,) = pair_counts(cols, [p])
            with np.errstate(divide="ignore", invalid="ignore"):
                x[:, names.index(f"{p.name}_rate_eb")] = np.where(trials > 0, succ / trials, np.nan)
            drop.add(f"{p.name}_lift")
    elif name == "raw_counts":
        drop = {f"{p}_n" for p in pair_names}
    elif name == "track_records":
        drop = {n for n in names if any(n.startswith(f"{e}_") for e in spec.entities)}
        drop -= set(spec.categorical) | set(spec.numeric)
    elif name == "funnel":
        drop = {n for n in names for p in pair_names if n.startswith(f"{p}_")}
    else:
        raise ValueError(f"unknown feature family {name!r}")
    if not drop and name != "shrunk_count_pairs":
        return None
    keep = [i for i, n in enumerate(names) if n not in drop]
    return x[:, keep], [names[i] for i in keep]


def fit_and_score(
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    params: dict[str, Any],
    config: TrainingConfig,
) -> dict[str, float]:
    """The model's recipe on any matrix (``names`` its columns): time-fold CV picks the trees
    (and the blend, when it is on), calibrate out of fold, refit on the whole training period,
    score the test rows."""
    recipe = fit_recipe(x, y, days, names, categorical, spec, params, config)
    return score(y_test, recipe.calibrator(recipe.log_odds(x_test)))


def linear_part_gain(result: TrainResult, config: TrainingConfig | None = None) -> dict[str, Any]:
    """The linear part's gain: the blended model minus LightGBM alone (w = 1: the same booster,
    calibrated the same way on its own honest out-of-fold log-odds), on the same test rows."""
    config = config or load_config()
    meaning = "the linear part dropped from the blend (w = 1: LightGBM alone)"
    choice = result.extras.get("blend")
    if choice is None:
        return {"meaning": meaning, "skipped": "blend off in config.yaml"}
    if choice.w >= 1.0:
        return {"meaning": meaning, "skipped": "the time folds chose w = 1 (LightGBM alone)"}
    y = result.train["label"].to_numpy()
    days = day_numbers(result.train)
    folds = time_folds(days, config.cv_folds)
    calibrator, _ = blend_calibrator(choice.lgbm.oof_logit, y, folds)
    model = result.model
    alone = dataclasses.replace(
        model, linear=None, pre_test_linear=None, blend_weight=1.0, calibrator=calibrator
    )
    test_cols = to_columns(result.test, model.spec)
    m = score(result.test["label"].to_numpy(), alone.predict_proba(test_cols))
    full = pick(result.test_metrics)
    return {
        "meaning": meaning,
        "without": pick(m),
        "auc_gain": round(full["auc"] - m["auc"], 5),
        "logloss_gain": round(m["logloss"] - full["logloss"], 5),
    }


def ablation(
    result: TrainResult, spec: DatasetSpec, config: TrainingConfig | None = None
) -> dict[str, Any]:
    """Retrain without each feature family; report test metrics and the family's gain
    (full model minus variant: AUC gain > 0 and log-loss gain > 0 mean the family helps)."""
    config = config or load_config()
    params = result.params
    fb = result.model.features
    train_cols, test_cols = to_columns(result.train, spec), to_columns(result.test, spec)
    x, x_test = fb.transform(train_cols), fb.transform(test_cols)
    if (text := result.extras.get("text")) is not None:  # as the model saw them: out of fold
        text.into(x, fb.text_features)
    y, y_test = result.train["label"].to_numpy(), result.test["label"].to_numpy()
    days = day_numbers(result.train)
    full = pick(result.test_metrics)
    out: dict[str, Any] = {}
    for family, meaning in tqdm(feature_families(spec).items(), desc="ablation", leave=False):
        tr, te = ablate(family, fb, x, train_cols), ablate(family, fb, x_test, test_cols)
        if tr is None or te is None:
            out[family] = {"meaning": meaning, "skipped": "no such features in this spec"}
            continue
        cats = [c for c in fb.categorical_features if c in tr[1]]
        m = fit_and_score(tr[1], cats, spec, tr[0], y, days, te[0], y_test, params, config)
        out[family] = {
            "meaning": meaning,
            "without": pick(m),
            "auc_gain": round(full["auc"] - m["auc"], 5),
            "logloss_gain": round(m["logloss"] - full["logloss"], 5),
        }
    return out


# ---- benchmark ------------------------------------------------------------------------------
def evaluate_dataset(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    params: dict[str, Any] | None = None,
    config: TrainingConfig | None = None,
    with_ablation: bool = True,
    n_boot: int = 500,
) -> dict[str, Any]:
    """Train the model, then baselines (and Bayes) and the ablation on the same test rows."""
    config = config or load_config()
    t0 = time.perf_counter()
    result = train_model(frame, spec, params, config)
    t_train = time.perf_counter() - t0
    out: dict[str, Any] = {
        "rows": {"train": len(result.train), "test": len(result.test)},
        "hit_rate": {
            "train": round(float(result.train["label"].mean()), 5),
            "test": round(float(result.test["label"].mean()), 5),
        },
        "test_period": [
            _day(result.test["launch_day"].min(), spec),
            _day(result.test["launch_day"].max(), spec),
        ],
        "model": model_summary(result, n_boot),
    }
    baselines = evaluate_baselines(result, spec)
    bayes = baselines.pop("bayes", None)
    out["baselines"] = baselines
    if bayes is not None:
        out["bayes"] = bayes
    if result.model.forecast is not None:
        # first-90-day GMV P10/P50/P90 on the same out-of-time test rows
        fc = evaluate_forecast(result.model, result.test)
        out["forecast"] = {k: round(v, 5) if isinstance(v, float) else v for k, v in fc.items()}
    t1 = time.perf_counter()
    if with_ablation:
        out["ablation"] = ablation(result, spec, config)
        out["linear_part"] = linear_part_gain(result, config)
    out["seconds"] = {
        "train": round(t_train, 1),
        "baselines": round(t1 - t0 - t_train, 1),
        "ablation": round(time.perf_counter() - t1, 1),
    }
    return out


def without_text(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    params: dict[str, Any] | None,
    config: TrainingConfig,
    n_boot: int,
) -> dict[str, Any]:
    """The same spec minus ``text`` (and nothing else), trained and tested the same way: the
    text's gain is the model's test metrics minus these."""
    t0 = time.perf_counter()
    result = train_model(frame, spec.model_copy(update={"text": []}), params, config)
    out = model_summary(result, n_boot)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def text_targets(section: dict[str, Any]) -> dict[str, bool]:
    """The text issue's Product Hunt targets, on measured numbers: AUC >= 0.70 with text, and a
    log loss below the same spec's without text and every baseline's (text-only included)."""
    m, without = section["model"], section["without_text"]
    return {
        "auc_ge_0.70": m["auc"] >= 0.70,
        "logloss_below_without_text": m["logloss"] < without["logloss"],
        "logloss_below_every_baseline": all(
            m["logloss"] < b["logloss"] for b in section["baselines"].values()
        ),
    }


def _day(ts: pd.Timestamp, spec: DatasetSpec) -> str:
    return str(ts.year) if spec.date_is_year else str(ts.date())


def targets(sim: dict[str, Any]) -> dict[str, bool]:
    """The issue's simulated-data targets, checked on measured numbers."""
    m, b = sim["model"], sim.get("bayes")
    out: dict[str, bool] = {"ece_le_0.02": m["ece"] <= 0.02}
    if b is not None:
        out["auc_ge_0.98_bayes"] = m["auc"] >= 0.98 * b["auc"]
        out["logloss_le_bayes_plus_0.01"] = m["logloss"] <= b["logloss"] + 0.01
    out["beats_every_baseline"] = all(
        m["auc"] > v["auc"] and m["logloss"] < v["logloss"] for v in sim["baselines"].values()
    )
    return out


def video_games_frame(
    spec_path: Path, data: Path | None = None, n_rows: int | None = None
) -> tuple[DatasetSpec, pd.DataFrame, dict[str, Any]]:
    """A real launch history as its spec reads it (the video games', Product Hunt's...), or a
    uniform subsample of ``n_rows`` launches."""
    spec = load_spec(spec_path)
    loaded = load_launches(spec, data, spec_dir=spec_path.parent)
    frame = loaded.frame
    if n_rows is not None and n_rows < len(frame):
        # a uniform subsample keeps the time structure (tests run the bench in seconds)
        frame = frame.sample(n_rows, random_state=0).sort_values("launch_day", kind="stable")
        frame = frame.reset_index(drop=True)
    return spec, frame, loaded.report


def run_benchmark(
    sim_rows: int = 20_000,
    sim_seed: int = 7,
    video_games_rows: int | None = None,
    video_games_data: Path | None = None,
    product_hunt_rows: int | None = None,
    product_hunt_data: Path | None = None,
    tune_trials: int = 0,
    with_ablation: bool = True,
    n_boot: int = 500,
    config: TrainingConfig | None = None,
) -> dict[str, Any]:
    """``compass bench quality``: simulated, video games and Product Hunt, one process.

    ``tune_trials`` > 0 runs a short Optuna study per dataset first (selected on time-fold CV
    of the training period only, never on the test); 0 uses ``config.yaml``'s params. Row
    counts and ``config`` are parameters so a test can run the whole benchmark in seconds."""
    config = config or load_config()
    started = time.perf_counter()
    out: dict[str, Any] = {
        "command": "compass bench quality",
        "params_source": (
            f"optuna: {tune_trials} trials per dataset on out-of-time CV of the training period"
            if tune_trials
            else "training/config.yaml (no tuning in the benchmark)"
        ),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
    }
    datasets: list[tuple[str, DatasetSpec, pd.DataFrame, dict[str, Any]]] = []
    sim_spec = load_spec(SPECS / "simulated.yaml")
    datasets.append(
        (
            "simulated",
            sim_spec,
            simulated_frame(sim_rows, sim_seed, sim_spec),
            {"rows": sim_rows, "seed": sim_seed, "test": f"latest {sim_spec.test_fraction:.0%}"},
        )
    )
    vg_spec, vg_frame, vg_report = video_games_frame(
        SPECS / "video_games.yaml", video_games_data, video_games_rows
    )
    datasets.append(
        (
            "video_games",
            vg_spec,
            vg_frame,
            {"data_report": vg_report, "test": f"release years >= {vg_spec.test_from_year}"},
        )
    )
    ph_spec, ph_frame, ph_report = video_games_frame(
        SPECS / "product_hunt.yaml", product_hunt_data, product_hunt_rows
    )
    datasets.append(
        (
            "product_hunt",
            ph_spec,
            ph_frame,
            {"data_report": ph_report, "test": f"launches from {ph_spec.test_from_date}"},
        )
    )
    for name, spec, frame, about in tqdm(datasets, desc="bench quality"):
        t0 = time.perf_counter()
        params, used, tuned = None, config, {}
        if tune_trials:
            params, blend = _tune_for_bench(frame, spec, tune_trials, config)
            used, tuned = tuned_config(config, blend), {"lightgbm": params, "blend": blend}
        section = evaluate_dataset(frame, spec, params, used, with_ablation, n_boot)
        if spec.text:
            section["without_text"] = without_text(frame, spec, params, used, n_boot)
        section["setup"] = about
        section["params"] = tuned or {"from": "config.yaml"}
        section["seconds"]["total"] = round(time.perf_counter() - t0, 1)
        out[name] = section
    out["simulated"]["targets"] = targets(out["simulated"])
    out["video_games"]["targets"] = {"auc_ge_0.88": out["video_games"]["model"]["auc"] >= 0.88}
    out["product_hunt"]["targets"] = text_targets(out["product_hunt"])
    out["ablation"] = {name: out[name].pop("ablation", None) for name, *_ in datasets}
    # the learner's ablation row (blend vs w = 1), beside the feature families'
    out["ablation_linear_part"] = {
        name: out[name].pop("linear_part", None) for name, *_ in datasets
    }
    out["seconds_total"] = round(time.perf_counter() - started, 1)
    return out


def _tune_for_bench(
    frame: pd.DataFrame, spec: DatasetSpec, trials: int, config: TrainingConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A throwaway in-memory study (the benchmark leaves the state folder alone): LightGBM's
    params and the blend's choices."""
    with tempfile.TemporaryDirectory() as tmp:
        res = tune(
            frame,
            spec,
            n_trials=trials,
            storage=optuna.storages.InMemoryStorage(),
            params_path=Path(tmp) / "best.json",
            config=config,
            log_to_mlflow=False,
        )
    return res.best_params, res.best_blend


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def markdown_tables(bench: dict[str, Any]) -> str:
    """The benchmark as Markdown (docs/benchmarks.md's quality table is pasted from this)."""
    lines: list[str] = []
    for name in ("simulated", "video_games", "product_hunt"):
        sec = bench.get(name)
        if sec is None:
            continue
        rows = {"**model**": sec["model"]}
        if "without_text" in sec:
            rows["model without text (same spec minus `text`)"] = sec["without_text"]
        rows |= sec["baselines"]
        if "bayes" in sec:
            rows["bayes (limit)"] = sec["bayes"]
        lines += [
            f"**{name}** ({sec['rows']['train']} train / {sec['rows']['test']} test launches, "
            f"test {sec['test_period'][0]} to {sec['test_period'][1]})",
            "",
            "| | AUC | log loss | Brier | ECE | top-decile precision |",
            "|---|---|---|---|---|---|",
        ]
        for label, m in rows.items():
            lines.append(
                f"| {label} | {m['auc']:.4f} | {m['logloss']:.4f} | {m['brier']:.4f} | "
                f"{m['ece']:.4f} | {m['top_decile_precision']:.3f} |"
            )
        lo, hi = sec["model"]["auc_ci"]
        lines += ["", f"Model AUC 95 % bootstrap interval [{lo:.4f}, {hi:.4f}].", ""]
        recipe = sec["model"].get("recipe")
        if recipe is not None:
            lines += [_recipe_line(recipe, sec["model"].get("calibrator")), ""]
    abl = bench.get("ablation") or {}
    names = [n for n in ("simulated", "video_games", "product_hunt") if abl.get(n)]
    lines += [
        "**Ablation** (test AUC / log-loss gain of each feature family = full model minus the "
        "model retrained without it; positive = the family helps)",
        "",
        "| family | "
        + " | ".join(f"{_label(n)} AUC gain | {_label(n)} log-loss gain" for n in names)
        + " |",
        "|---|" + "---|---|" * len(names),
    ]
    families = dict.fromkeys(f for n in names for f in abl[n])
    for family in families:
        cells = []
        for n in names:
            cells += _gains(abl[n].get(family, {}))
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    learner = bench.get("ablation_linear_part") or {}
    if learner:
        cells = []
        for n in names:
            cells += _gains(learner.get(n) or {})
        lines.append("| linear_part (blend vs w = 1) | " + " | ".join(cells) + " |")
    texts = [n for n in names if "without_text" in bench[n]]
    if texts:
        cells = []
        for n in names:
            sec, without = bench[n], bench[n].get("without_text")
            gain = None
            if without is not None:
                gain = {
                    "auc_gain": sec["model"]["auc"] - without["auc"],
                    "logloss_gain": without["logloss"] - sec["model"]["logloss"],
                }
            cells += _gains(gain or {})
        lines.append("| text (the spec minus `text`, retrained) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _label(name: str) -> str:
    return name.replace("_", " ")


def _gains(part: dict[str, Any]) -> list[str]:
    if "auc_gain" in part:
        return [f"{part['auc_gain']:+.4f}", f"{part['logloss_gain']:+.4f}"]
    return ["n/a", "n/a"]


def _recipe_line(recipe: dict[str, Any], calibrator: str | None) -> str:
    def hl(v: float | None) -> str:
        return "none" if v is None else f"{v:g} y"

    return (
        f"Chosen on the training period's time folds: learner **{recipe['learner']}**, "
        f"w = {recipe['w']:.2f} (LightGBM's weight in log-odds), linear C = {recipe['C']:g}, "
        f"recency half-life LightGBM {hl(recipe['lgbm_half_life'])} / linear "
        f"{hl(recipe['linear_half_life'])}, calibration {calibrator}; out-of-fold log loss "
        f"LightGBM {recipe['oof_logloss']['lgbm']:.4f}, linear "
        f"{recipe['oof_logloss']['linear']:.4f}, blend {recipe['oof_logloss']['blend']:.4f}."
    )
