"""The model report of a training run: plots (ROC, reliability diagram, lift chart, SHAP summary,
feature importance) and a Markdown page, logged to MLflow next to the model.

SHAP values come from LightGBM's own TreeSHAP (``pred_contrib``), so no ``shap`` package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window (training runs headless)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from features.spec import DatasetSpec  # noqa: E402
from training.baselines import (  # noqa: E402
    BASELINE_ROWS,
    METRICS,
    baseline_probabilities,
    evaluate_baselines,
    model_summary,
    text_ablation,
    text_quality,
)
from training.boosting import sample_rows  # noqa: E402
from training.dataset import to_columns  # noqa: E402
from training.evaluate import reliability_table  # noqa: E402
from training.stages import Stages  # noqa: E402
from training.train import TrainingConfig, TrainResult, load_config  # noqa: E402

TOP_FEATURES = 15
SHAP_ROWS = 20_000  # test rows TreeSHAP explains for the report (all of them below this)


@dataclass
class RunReport:
    folder: Path  # model_report.md + plots/*.png
    metrics: dict[str, float] = field(default_factory=dict)  # flat, for mlflow.log_metrics
    summary: dict[str, Any] = field(default_factory=dict)


def plot_roc(y: np.ndarray, probas: dict[str, np.ndarray], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probas.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=2 if name == "model" else 1, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_reliability(y: np.ndarray, p: np.ndarray, ece: float, path: Path) -> Path:
    table = reliability_table(y, p, bins=10)
    pred = [r["mean_predicted"] for r in table]
    obs = [r["observed_rate"] for r in table]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(max(pred), max(obs)) * 1.05
    ax.plot([0, top], [0, top], "k:", lw=0.8, label="perfect")
    ax.plot(pred, obs, "o-", label="model (10 equal-count bins)")
    ax.set(
        xlabel="mean predicted P(hit)",
        ylabel="observed hit rate",
        title=f"Reliability (test), ECE {ece:.3f}",
    )
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def lift_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> list[dict[str, float]]:
    """Test rows in deciles of predicted P(hit), best first: hit rate and lift over base."""
    order = np.argsort(-p, kind="stable")
    base = max(float(y.mean()), 1e-9)
    out = []
    for i, chunk in enumerate(np.array_split(order, groups)):
        rate = float(y[chunk].mean()) if len(chunk) else 0.0
        out.append({"decile": i + 1, "hit_rate": rate, "lift": rate / base, "n": len(chunk)})
    return out


def plot_lift(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    table = lift_table(y, p)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([r["decile"] for r in table], [r["hit_rate"] for r in table], color="tab:blue")
    ax.axhline(float(y.mean()), color="k", ls=":", label=f"base rate {y.mean():.3f}")
    ax.set(
        xlabel="decile of predicted P(hit) (1 = best scored)",
        ylabel="observed hit rate",
        title=f"Lift (test): top decile x{table[0]['lift']:.1f}",
    )
    ax.set_xticks(range(1, 11))
    ax.legend(fontsize=8)
    return _save(fig, path)


def mean_abs_shap(contrib: np.ndarray, names: list[str]) -> list[tuple[str, float]]:
    """(feature, mean |SHAP| in log-odds), largest first; the base-value column is dropped."""
    values = np.abs(contrib[:, : len(names)]).mean(0)
    order = np.argsort(-values)
    return [(names[i], float(values[i])) for i in order]


def plot_shap_summary(
    contrib: np.ndarray, x: np.ndarray, names: list[str], path: Path, seed: int = 0
) -> Path:
    """Beeswarm-style: one dot per test row and feature, x = contribution to the log-odds,
    colour = the feature's value (rank within the feature; grey = missing)."""
    rng = np.random.default_rng(seed)
    top = [n for n, _ in mean_abs_shap(contrib, names)[:TOP_FEATURES]]
    rows = rng.choice(len(x), size=min(len(x), 2000), replace=False)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(top) + 1.5))
    for pos, name in enumerate(reversed(top)):
        j = names.index(name)
        c, v = contrib[rows, j], x[rows, j]
        finite = np.isfinite(v)
        colour = np.full(len(v), 0.5)
        if finite.sum() > 1:
            colour[finite] = np.argsort(np.argsort(v[finite])) / (finite.sum() - 1)
        jitter = rng.uniform(-0.3, 0.3, len(c))
        ax.scatter(c[finite], pos + jitter[finite], c=colour[finite], cmap="coolwarm", s=4)
        ax.scatter(c[~finite], pos + jitter[~finite], color="lightgrey", s=4)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_yticks(range(len(top)), list(reversed(top)), fontsize=8)
    ax.set(xlabel="SHAP value (log-odds of a hit)", title="SHAP summary (test, TreeSHAP)")
    return _save(fig, path)


def plot_importance(names: list[str], gain: np.ndarray, path: Path) -> Path:
    order = np.argsort(-gain)[:TOP_FEATURES][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(order) + 1.5))
    ax.barh([names[i] for i in order], gain[order] / max(gain.sum(), 1e-12))
    ax.set(xlabel="share of total split gain", title="Feature importance (gain)")
    ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(rows: dict[str, dict[str, float]]) -> str:
    head = "| | " + " | ".join(METRICS) + " |\n|---|" + "---|" * len(METRICS) + "\n"
    body = "".join(
        f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k in METRICS) + " |\n"
        for name, m in rows.items()
    )
    return head + body


def markdown_report(
    spec: DatasetSpec,
    result: TrainResult,
    summary: dict[str, Any],
    baselines: dict[str, dict[str, float]],
    shap_top: list[tuple[str, float]],
    lift: list[dict[str, float]],
) -> str:
    train, test = result.train, result.test
    rows = {"**model**": summary} | baselines
    cal = result.calibration
    lines = [
        f"# Hit Compass model report: `{spec.name}`",
        "",
        f"Out-of-time split: train {len(train)} launches "
        f"({train['launch_day'].min().date()} to {train['launch_day'].max().date()}, "
        f"hit rate {train['label'].mean():.3f}); test {len(test)} launches "
        f"({test['launch_day'].min().date()} to {test['launch_day'].max().date()}, "
        f"hit rate {test['label'].mean():.3f}).",
        "",
        "## Test metrics (model, baselines"
        + (", Bayes limit" if "bayes" in baselines else "")
        + ")",
        "",
        _table(rows),
        f"Model AUC 95 % bootstrap interval: [{summary['auc_ci'][0]:.4f}, "
        f"{summary['auc_ci'][1]:.4f}]; log loss: [{summary['logloss_ci'][0]:.4f}, "
        f"{summary['logloss_ci'][1]:.4f}].",
        "",
        "Baselines: `base_rate` = training-period hit rate of the test row's "
        f"`{spec.categorical[0] if spec.categorical else 'overall'}`; `logistic` = logistic "
        "regression on the model's features; `lightgbm_default` = LightGBM with default "
        "params on the raw columns"
        + (
            f" (both fitted on a seeded sample of {BASELINE_ROWS} training launches)."
            if len(train) > BASELINE_ROWS
            else "."
        )
        + (
            " `bayes` = the simulator's exact posterior (the limit)."
            if "bayes" in baselines
            else ""
        ),
        "",
        "## Calibration",
        "",
        f"Calibrator: **{cal.get('calibrator')}** (kept only if it lowers out-of-fold log loss: "
        f"{cal.get('oof_logloss_uncalibrated', float('nan')):.4f} uncalibrated vs "
        f"{cal.get('oof_logloss_calibrated', float('nan')):.4f} calibrated). "
        f"Test ECE {summary['ece']:.4f}.",
        "",
        "![reliability](plots/reliability.png)",
        "",
        "## Ranking",
        "",
        "| decile | hit rate | lift |\n|---|---|---|",
        *[f"| {r['decile']} | {r['hit_rate']:.3f} | {r['lift']:.2f} |" for r in lift],
        "",
        "![ROC](plots/roc.png) ![lift](plots/lift.png)",
        "",
        "## What drives the score (mean |SHAP|, log-odds, "
        f"{min(len(test), SHAP_ROWS)} of {len(test)} test rows)",
        "",
        "| feature | mean abs SHAP |\n|---|---|",
        *[f"| `{n}` | {v:.4f} |" for n, v in shap_top[:TOP_FEATURES]],
        "",
        "![SHAP](plots/shap_summary.png) ![importance](plots/importance.png)",
        "",
        "## Training",
        "",
        f"{result.cv.n_rounds} trees (early stopping on {len(result.cv.best_iterations)} "
        f"expanding out-of-time folds: {result.cv.best_iterations}); CV log loss per fold "
        f"{[round(v, 4) for v in result.cv.fold_logloss]}.",
        "",
        *_blend_lines(cal.get("blend")),
        "Params: `"
        + ", ".join(f"{k}={v}" for k, v in result.params.items() if k != "verbose")
        + "`",
        "",
    ]
    return "\n".join(lines)


def write_run_report(
    result: TrainResult,
    spec: DatasetSpec,
    folder: Path,
    stages: Stages | None = None,
    config: TrainingConfig | None = None,
) -> RunReport:
    """Baselines, bootstrap CI, plots and the Markdown report of one training run; with text in
    the spec, also the text models' own quality and the model without them (``config``: the
    run's training config, for that ablation)."""
    stages = stages or Stages()
    folder.mkdir(parents=True, exist_ok=True)
    plots = folder / "plots"
    y = result.test["label"].to_numpy()
    p = result.test_proba
    with stages("baselines"):
        probas = baseline_probabilities(result, spec)
        baselines = evaluate_baselines(result, spec, probas)
    with stages("report"):
        summary = model_summary(result)
        model = result.model
        # TreeSHAP costs trees x leaves x depth^2 per row and only feeds the table and plot of
        # what drives the score: a fixed sample of test rows estimates both
        rows = sample_rows(np.arange(len(result.test)), SHAP_ROWS)
        x_test = model.features.transform(to_columns(result.test.iloc[rows], spec))
        names = model.features.feature_names
        contrib, _, _ = model.explain(x_test)
        shap_top = mean_abs_shap(contrib, names)
        lift = lift_table(y, p)
        plot_roc(y, {"model": p} | probas, plots / "roc.png")
        plot_reliability(y, p, summary["ece"], plots / "reliability.png")
        plot_lift(y, p, plots / "lift.png")
        plot_shap_summary(contrib, x_test, names, plots / "shap_summary.png")
        plot_importance(names, model.booster.feature_importance("gain"), plots / "importance.png")
        text = markdown_report(spec, result, summary, baselines, shap_top, lift)
        metrics = {
            "test_auc_ci_low": summary["auc_ci"][0],
            "test_auc_ci_high": summary["auc_ci"][1],
            "cv_logloss": summary["cv_logloss"],
        }
        for name, m in baselines.items():
            metrics |= {f"{name}_{k}": v for k, v in m.items() if k in METRICS}
    out: dict[str, Any] = {"model": summary, "baselines": baselines}
    if spec.text:
        with stages("text_ablation"):
            quality = text_quality(result)
            ablation = text_ablation(result, config or load_config())
        text += _text_section(quality, ablation)
        for col, q in quality.items():
            metrics |= {
                f"text_{_metric_name(col)}_{k}": float(q[k])
                for k in ("oof_auc", "oof_logloss", "test_auc", "test_logloss")
                if q.get(k) is not None
            }
        metrics |= {f"without_text_{k}": v for k, v in ablation["without_text"].items()}
        metrics |= {
            "text_auc_gain": ablation["auc_gain"],
            "text_logloss_gain": ablation["logloss_gain"],
        }
        out["text"] = {"models": quality, "ablation": ablation}
    (folder / "model_report.md").write_text(text)
    return RunReport(folder, metrics, out)


def _text_section(quality: dict[str, Any], ablation: dict[str, Any]) -> str:
    """The report's text section: each text model alone, and the model without them."""
    without = ablation["without_text"]
    lines = [
        "",
        "## Text",
        "",
        "Each text field's score comes from a text model fitted on earlier time folds only "
        "(out of fold in training); alone, as log-odds of a hit:",
        "",
        "| field | C | n-grams | out-of-fold AUC | out-of-fold log loss | test AUC "
        "| test log loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for col, q in quality.items():
        lines.append(
            f"| {col} | {q['C']:g} | {q['vocabulary']} | {_num(q['oof_auc'])} | "
            f"{q['oof_logloss']:.4f} | {q['test_auc']:.4f} | {q['test_logloss']:.4f} |"
        )
    lines += [
        "",
        f"Without the text scores (same recipe, chosen again on the time folds): test AUC "
        f"{without['auc']:.4f}, log loss {without['logloss']:.4f}; the text's gain: AUC "
        f"{ablation['auc_gain']:+.4f}, log loss {ablation['logloss_gain']:+.4f} (positive: "
        "the text helps).",
        "",
    ]
    return "\n".join(lines)


def _metric_name(column: str) -> str:
    """A column's name as MLflow takes it in a metric (ASCII letters, digits, ``_.-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", column)


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def _blend_lines(blend: dict | None) -> list[str]:
    """The blend the time folds chose (training.blend), if the blend is on."""
    if not blend:
        return []
    oof, lin = blend["oof_logloss"], blend["linear"]
    fwd = blend.get("forward_calibration") or {}
    return [
        f"Blend: learner **{blend['learner']}**, w = {blend['w']} (LightGBM's weight in "
        f"log-odds), linear C = {lin['C']}, recency half-life LightGBM "
        f"{blend['lgbm_half_life']} / linear {lin['half_life']} years (None: no decay); "
        f"out-of-fold log loss LightGBM {oof['lgbm']}, linear {oof['linear']}, blend "
        f"{oof['blend']}; forward Platt check {fwd} -> {blend.get('calibration')}.",
        "",
    ]
