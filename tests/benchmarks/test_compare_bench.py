"""The comparison benchmark's constructed group: a test thinned below training's smallest."""

from __future__ import annotations

import numpy as np

from benchmarks.compare import thinned_test
from features.simulator import simulate


def test_a_thinned_test_is_a_smaller_test_of_the_same_concepts() -> None:
    """Each count is drawn from the one before it, so the funnel stays a funnel, and across
    many concepts the thinned rates match the originals' (what binomial thinning keeps)."""
    frame = simulate(3000, seed=5)
    tested = frame[frame["test_samples_sent"] >= 100]
    thin = thinned_test(tested, 50, seed=1)
    assert (thin["test_samples_sent"] == 50).all()
    chain = ["test_samples_sent", "test_trials", "test_positive", "test_repurchase"]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert (thin[child] <= thin[parent]).all() and (thin[child] >= 0).all()
    before = tested["test_positive"].sum() / tested["test_trials"].sum()
    after = thin["test_positive"].sum() / thin["test_trials"].sum()
    assert abs(after - before) < 0.02
    assert thin.index.equals(tested.index) and (thin["price"] == tested["price"]).all()
    untouched = thinned_test(tested, 10_000, seed=1)  # more than was sent: nothing changes
    assert np.array_equal(untouched[chain].to_numpy(), tested[chain].to_numpy())


def test_the_fitted_scale_is_the_smallest_that_covers_the_level(fast_config) -> None:
    """The smallest scale of the grid whose coverage reaches the level; on one small simulated
    history, the fit's bookkeeping: that scale covers the level, it is the one seed's own, and
    each seed's progress is said."""
    from benchmarks.compare import SCALE_GRID, _first_reaching, fit_scales

    grid = np.array([1.0, 1.5, 2.0, 2.5])
    assert _first_reaching(grid, np.array([0.6, 0.79, 0.8, 0.9]), 0.8) == 2.0
    assert _first_reaching(grid, np.array([0.6, 0.7, 0.75, 0.79]), 0.8) is None

    said: list[str] = []
    result = fit_scales([3], sim_rows=1500, config=fast_config, say=said.append)
    scale, one = result["scale"], result["per_seed"][3]
    assert scale in SCALE_GRID and one["scale_for_level"] == scale
    assert result["coverage_at_scale"] >= 0.8 == result["setup"]["level"]
    assert one["coverage_at_scale"] == result["coverage_at_scale"]  # one seed: pooled is its own
    assert result["pair_scale"] in SCALE_GRID and result["pair_log_loss"] > 0
    assert said[0].startswith("1/1 seed 3") and "alone need a scale of" in said[1]


def test_the_benchmark_reports_each_group_and_test_size(fast_config) -> None:
    """One small run, end to end: every group and thinned size has its coverage, width and
    error against Bayes, and the Markdown shows the sizes' table and the targets."""
    from benchmarks.compare import THIN_SIZES, markdown, run

    result = run(sim_rows=1500, seed=3, config=fast_config, repeats=2)
    assert list(result["test_sizes"]) == [str(k) for k in THIN_SIZES]
    measured = [
        *result["test_sizes"].values(),
        *(g[side] for g in result["groups"].values() for side in ("unlike", "familiar")),
    ]
    for c in measured:
        assert 0.0 <= c["coverage"] <= 1.0 and c["median_log_odds_error"] >= 0.0
        assert c["median_log_odds_width"] > 0.0
    table = markdown(result)
    assert f"| {THIN_SIZES[0]} | " in table and "| as they are | " in table
    assert "Targets: coverage_in_75_85" in table
    assert set(result["width_follows_error"]) <= set(result["groups"])


def test_width_follows_error_per_unlike_group() -> None:
    """Wider where the error is larger and narrower where smaller both count as following it;
    a group with nobody on a side has no verdict; familiar kinds are not judged."""
    from benchmarks.compare import width_follows_error

    def group(width: float, error: float, n: int = 10, unlike: bool = True) -> dict:
        side = {"n": n, "median_log_odds_width": width, "median_log_odds_error": error}
        familiar = {"n": 10, "median_log_odds_width": 1.0, "median_log_odds_error": 0.5}
        return {"unlike_training": unlike, "unlike": side, "familiar": familiar}

    verdicts = width_follows_error(
        {
            "wider, further": group(1.2, 0.6),
            "narrower, closer": group(0.9, 0.4),
            "wider, closer": group(1.2, 0.4),
            "narrower, further": group(0.9, 0.6),
            "empty": group(float("nan"), float("nan"), n=0),
            "familiar kind": group(1.2, 0.6, unlike=False),
        }
    )
    assert verdicts == {
        "wider, further": True,
        "narrower, closer": True,
        "wider, closer": False,
        "narrower, further": False,
        "empty": None,
    }
