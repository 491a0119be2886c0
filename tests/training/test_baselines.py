"""Honest evaluation: baselines on the same test rows, and the run report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.spec import load_spec
from training import DEFAULT_SPEC
from training.baselines import METRICS, base_rate_baseline, evaluate_baselines
from training.report import write_run_report
from training.train import TrainResult


def test_baselines_on_the_same_test_rows(small_result: TrainResult) -> None:
    spec = small_result.model.features.spec
    out = evaluate_baselines(small_result, spec)
    assert set(out) == {"base_rate", "logistic", "lightgbm_default", "bayes"}
    for metrics in out.values():
        assert set(METRICS) <= set(metrics)
        assert all(np.isfinite(v) for v in metrics.values())
    # the launch features and funnel carry real signal: a linear model on them beats the
    # per-category base rate, and nothing beats the simulator's Bayes posterior by much
    assert out["logistic"]["auc"] > out["base_rate"]["auc"] + 0.1
    assert out["bayes"]["logloss"] < out["base_rate"]["logloss"]


def test_base_rate_is_the_training_rate_of_the_category() -> None:
    train = pd.DataFrame({"cat": ["a", "a", "a", "b"], "label": [1, 0, 0, 1]})
    test = pd.DataFrame({"cat": ["a", "b", "new"]})
    spec = load_spec(DEFAULT_SPEC).model_copy(update={"categorical": ["cat"]})
    np.testing.assert_allclose(base_rate_baseline(train, test, spec), [1 / 3, 1.0, 0.5])


def test_run_report_has_plots_and_markdown(small_result: TrainResult, tmp_path: Path) -> None:
    report = write_run_report(small_result, small_result.model.features.spec, tmp_path / "r")
    plots = {p.name for p in (tmp_path / "r" / "plots").iterdir()}
    assert plots == {"roc.png", "reliability.png", "lift.png", "shap_summary.png", "importance.png"}
    text = (tmp_path / "r" / "model_report.md").read_text()
    assert "| **model** |" in text and "| bayes |" in text and "bootstrap" in text
    assert report.metrics["test_auc_ci_low"] <= small_result.test_metrics["auc"]
    assert "logistic_auc" in report.metrics


def test_training_run_logs_report_and_baselines(champion: dict) -> None:
    client = MlflowClient()
    mv = client.get_model_version("hit-compass", champion["version"])
    run = client.get_run(mv.run_id)
    for key in ("base_rate_auc", "logistic_logloss", "lightgbm_default_auc", "bayes_auc"):
        assert key in run.data.metrics
    files = {f.path for f in client.list_artifacts(mv.run_id, "report")}
    assert "report/model_report.md" in files and "report/plots" in files
