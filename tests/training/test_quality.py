"""Honest evaluation: baselines on the same test rows, the benchmark JSON, the run report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.spec import load_spec
from training.cli import DEFAULT_SPEC
from training.quality import (
    METRICS,
    ablate,
    base_rate_baseline,
    evaluate_baselines,
    run_benchmark,
    simulated_frame,
)
from training.report import write_run_report
from training.train import TrainResult, load_config, train_model

FAST = {"max_rounds": 120, "early_stopping_rounds": 10, "cv_folds": 3}


def _fast_config() -> dict[str, Any]:
    cfg = load_config()
    cfg.update(FAST)
    # one thread: OpenMP spin-waits badly when the suite shares 2 cores with other processes
    cfg["lightgbm"] = cfg["lightgbm"] | {"learning_rate": 0.1, "num_threads": 1}
    return cfg


@pytest.fixture(scope="module")
def small_result() -> TrainResult:
    spec = load_spec(DEFAULT_SPEC)
    return train_model(simulated_frame(2000, 3, spec), spec, config=_fast_config())


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


def test_ablation_variants_drop_their_family(small_result: TrainResult) -> None:
    fb = small_result.model.features
    from training.dataset import to_columns

    cols = to_columns(small_result.train, fb.spec)
    x = fb.transform(cols)
    _, names = ablate("track_records", fb, x, cols)  # type: ignore[misc]
    assert "brand_hit_rate_eb" not in names and "price" in names
    _, names = ablate("funnel", fb, x, cols)  # type: ignore[misc]
    assert not any(n.startswith(("interest_", "test_")) for n in names)
    xs, names = ablate("shrunk_count_pairs", fb, x, cols)  # type: ignore[misc]
    j = names.index("interest_rate_eb")
    raw = cols["interested"] / cols["reach"]
    np.testing.assert_allclose(xs[:, j], raw)


def test_benchmark_json_shape_on_a_tiny_run(video_games_spec: Path) -> None:
    out = run_benchmark(
        sim_rows=1500, video_games_rows=2000, n_boot=50, config=_fast_config(), with_ablation=True
    )
    for name in ("simulated", "video_games"):
        section = out[name]
        assert set(section["baselines"]) == {"base_rate", "logistic", "lightgbm_default"}
        for block in [section["model"], *section["baselines"].values()]:
            assert set(METRICS) <= set(block)
        lo, hi = section["model"]["auc_ci"]
        assert lo <= section["model"]["auc"] <= hi
        assert set(out["ablation"][name]) == {
            "shrunk_count_pairs",
            "raw_counts",
            "track_records",
            "funnel",
        }
    assert set(METRICS) <= set(out["simulated"]["bayes"]) and "bayes" not in out["video_games"]
    assert out["simulated"]["setup"]["rows"] == 1500
    forecast = out["simulated"]["forecast"]
    assert 0 <= forecast["coverage_80"] <= 1 and forecast["mape_p50"] > 0
    assert "forecast" not in out["video_games"]  # no outcome column in that spec
    assert "config.yaml" in out["params_source"] and out["seconds_total"] > 0
    assert set(out["simulated"]["targets"]) >= {"auc_ge_0.98_bayes", "beats_every_baseline"}


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
