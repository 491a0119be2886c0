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
