"""The training-growth benchmark on one small size: the JSON's shape, stages within the wall."""

from __future__ import annotations

import pytest

from benchmarks.train import markdown, run


def bayes_on_test_rows(n: int, seed: int) -> dict[str, float]:
    """The simulator's exact P(hit) scored on the out-of-time test rows of ``simulate(n, seed)``."""
    from features.spec import load_spec
    from training import DEFAULT_SPEC
    from training.dataset import simulated_frame
    from training.evaluate import score
    from training.train import split_out_of_time

    spec = load_spec(DEFAULT_SPEC)
    _, test = split_out_of_time(simulated_frame(n, seed, spec), spec)
    return score(test["label"].to_numpy(), test["p_hit_bayes"].to_numpy(float))


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
    # against the Bayes limit on the same test rows (the benchmark simulates seed 5 as here)
    bayes = bayes_on_test_rows(3000, 5)
    assert row["bayes_auc"] == pytest.approx(bayes["auc"], abs=1e-5)
    assert bayes["auc"] - 0.06 < row["test_auc"] < bayes["auc"] + 0.01, (row, bayes)
    assert bayes["logloss"] - 0.01 < row["test_logloss"] < bayes["logloss"] + 0.04, (row, bayes)
    assert "| 3,000 |" in markdown(out)
