"""The quality benchmark: the ablation variants and the benchmark JSON on a tiny run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.quality import ablate, markdown_tables, run_benchmark
from training.baselines import METRICS
from training.dataset import to_columns
from training.train import TrainResult


def same_rows(n: int, seed: int) -> dict:
    """On the out-of-time test rows of the benchmark's simulated frame: the Bayes limit's
    metrics, and the MAPE of a constant forecast (the training period's median outcome)."""
    from features.spec import load_spec
    from training import DEFAULT_SPEC
    from training.dataset import simulated_frame
    from training.evaluate import score
    from training.train import split_out_of_time

    spec = load_spec(DEFAULT_SPEC)
    train, test = split_out_of_time(simulated_frame(n, seed, spec), spec)
    y = test["gmv_90d"].to_numpy(float)
    pos = y > 0
    constant = np.median(train["gmv_90d"].to_numpy(float))
    return {
        "bayes": score(test["label"].to_numpy(), test["p_hit_bayes"].to_numpy(float)),
        "n": int(np.sum(np.isfinite(y) & (y >= 0))),
        "constant_mape": float(np.mean(np.abs(constant - y[pos]) / y[pos])),
    }


def test_ablation_variants_drop_their_family(small_result: TrainResult) -> None:
    fb = small_result.model.features
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


def test_benchmark_json_shape_on_a_tiny_run(
    video_games_spec: Path, product_hunt_spec: Path, fast_config
) -> None:
    out = run_benchmark(
        sim_rows=1500,
        video_games_rows=2000,
        product_hunt_rows=2000,
        n_boot=50,
        config=fast_config,
        with_ablation=True,
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
    # the figures against the Bayes limit and the baselines on the same out-of-time rows
    sim = out["simulated"]
    model, bayes, base_rate = sim["model"], sim["bayes"], sim["baselines"]["base_rate"]
    truth = same_rows(1500, 7)
    assert bayes["auc"] == pytest.approx(truth["bayes"]["auc"], abs=1e-5)
    assert bayes["auc"] - 0.1 < model["auc"] < bayes["auc"] + 0.02, (model, bayes)
    assert bayes["logloss"] - 0.02 < model["logloss"] < base_rate["logloss"], (model, base_rate)
    forecast = sim["forecast"]
    assert forecast["n"] == truth["n"]
    assert 0.65 <= forecast["coverage_80"] <= 0.95, forecast  # 80 % nominal, 300 test rows
    assert forecast["mape_p50"] < truth["constant_mape"], (forecast, truth)
    assert "forecast" not in out["video_games"]  # no outcome column in that spec
    assert "config.yaml" in out["params_source"] and out["seconds_total"] > 0
    assert set(out["simulated"]["targets"]) >= {"auc_ge_0.98_bayes", "beats_every_baseline"}
    # Product Hunt: its text scored, the same spec without text beside it, a text-only baseline
    ph = out["product_hunt"]
    assert set(ph["baselines"]) == {"base_rate", "logistic", "lightgbm_default", "text_only"}
    assert set(METRICS) <= set(ph["without_text"]) and "without_text" not in out["simulated"]
    assert set(ph["targets"]) == {
        "auc_ge_0.70",
        "logloss_below_without_text",
        "logloss_below_every_baseline",
    }
    assert "text (the spec minus `text`, retrained)" in markdown_tables(out)
