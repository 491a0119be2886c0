"""The training-growth benchmark on one small size: the JSON's shape, stages within the wall."""

from __future__ import annotations

import pytest

from benchmarks.train import markdown, run


# two fresh processes simulating and training: about 20 s on 2 cores
@pytest.mark.slow
def test_train_benchmark_json_on_a_small_size() -> None:
    out = run([3000], seed=5, say=lambda _: None)
    assert {"cores", "cpu", "load_avg_1m_at_start"} <= set(out["machine"])
    (row,) = out["sizes"]
    assert row["n"] == 3000 and row["train_rows"] + row["test_rows"] == 3000
    assert row["wall_s"] > 0 and row["peak_rss_mb"] > 0
    assert row["simulate_s"] > 0 and row["simulate_peak_rss_mb"] > 0
    expected = {
        "load",
        "features",
        "time_folds",
        "final_fit",
        "pre_test_and_forecast",
        "baselines",
        "report",
        "mlflow_logging",
    }
    assert expected <= set(row["stages"])
    assert all(v >= 0 for v in row["stages"].values())
    # stages never nest, so together they fit in the run (both are rounded to 0.01 s)
    assert sum(row["stages"].values()) <= row["wall_s"] + 0.01 * len(row["stages"])
    assert set(row["stages_cpu_s"]) == set(row["stages"])
    assert sum(row["stages_cpu_s"].values()) <= row["cpu_s"] + 0.01 * len(row["stages"])
    for key in ("test_auc", "bayes_auc"):
        assert 0.5 < row[key] <= 1.0
    assert 0 < row["test_logloss"] < 1
    assert "| 3,000 |" in markdown(out)
