"""The funnel card's norms: past launches' shrunk rates, each out of fold (no look-ahead)."""

from __future__ import annotations

import numpy as np

from training.dataset import day_numbers, to_columns
from training.funnel_norms import funnel_norms
from training.train import time_folds


def test_norms_cover_the_funnel_out_of_fold(small_result, fast_config) -> None:
    model, train = small_result.model, small_result.train
    norms = model.funnel
    assert norms["by"] == "category" and norms["stages"] == model.spec.funnel
    folds = time_folds(day_numbers(train), fast_config.cv_folds)
    later = np.zeros(len(train), dtype=bool)
    for _, rows in folds:
        later[rows] = True
    # the first block has no earlier launches to fit a prior on: it is in no norm
    assert not later[: folds[0][1][0]].any()
    for stage, pair in ((p.name, p) for p in model.spec.count_pairs):
        ran = later & (train[pair.trials].to_numpy() > 0)
        assert norms["n"][stage]["*"] == int(ran.sum()), stage
        for key, q in norms["quantiles"][stage].items():
            assert q == sorted(q) and len(q) == 201 and 0 <= q[0] <= q[-1] <= 1, (stage, key)


def test_a_launch_norm_never_sees_later_launches(small_result, fast_config) -> None:
    """The norms of the launches of one fold are the same whatever the launches after it did."""
    train, spec = small_result.train, small_result.model.spec
    cols = to_columns(train, spec)
    first = time_folds(day_numbers(train), fast_config.cv_folds)[:1]
    after = first[0][1][-1] + 1
    changed = {k: np.array(v, copy=True) for k, v in cols.items()}
    for pair in spec.count_pairs:  # later launches convert everyone, or no one
        changed[pair.successes][after:] = (
            changed[pair.trials][after:] * (np.arange(len(train)) % 2)[after:]
        )
    assert funnel_norms(spec, cols, first) == funnel_norms(spec, changed, first)
    assert funnel_norms(spec, cols, first)["n"]["interest"]["*"] == len(first[0][1])


def test_no_funnel_no_norms(small_result) -> None:
    spec = small_result.model.spec.model_copy(update={"funnel": []})
    assert funnel_norms(spec, to_columns(small_result.train, spec), []) is None
