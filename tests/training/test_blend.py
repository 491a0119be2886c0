"""Fitting and choosing the blend: recency weights, honest out-of-fold LightGBM, the linear part's
monotone bounds, the weight, the config."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from pydantic import ValidationError

from features.spec import load_spec
from training import DEFAULT_SPEC
from training.blend import (
    LATEST_FOLDS,
    choose_blend,
    fit_linear,
    honest_lgbm_oof,
    linear_oofs,
    logloss,
    oof_mask,
    recency_weights,
    select_weight,
)
from training.boosting import booster_params, dataset
from training.dataset import simulated_frame
from training.train import TrainingConfig, choose_blend_model, load_config, prepare, time_folds


def test_recency_weights_halve_every_half_life() -> None:
    days = np.array([0.0, 365.25, 730.5])
    np.testing.assert_allclose(recency_weights(days, 1.0), [0.25, 0.5, 1.0])
    assert recency_weights(days, None) is None


def test_monotone_features_keep_their_declared_sign() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    x = np.column_stack([rng.integers(0, 3, n), rng.lognormal(0, 1, n), rng.normal(0, 1, n)])
    z = -1.5 * np.log1p(x[:, 1]) + 0.8 * x[:, 2]  # the data say "down" for budget
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    names = ["tier", "budget", "other"]
    free = fit_linear(x, y, names, ["tier"], None, 1.0)
    bound = fit_linear(x, y, names, ["tier"], {"budget": 1}, 1.0)
    j = free.owners.index(1)
    assert free.coef[j] < -0.5 and bound.coef[j] >= 0.0
    np.testing.assert_allclose(bound.log_odds(x), bound.literal_log_odds(x), atol=1e-10)


def test_the_linear_part_records_the_range_it_was_fitted_on() -> None:
    """Each numeric feature's finite training range goes into the JSON state (the part clips
    to it when scoring); a feature never seen finite gets its median's, [0, 0]."""
    rng = np.random.default_rng(2)
    n = 500
    x = np.column_stack([rng.integers(0, 3, n), rng.lognormal(0, 1, n), np.full(n, np.nan)])
    x[::7, 1] = np.inf  # missing, not the edge
    y = (rng.random(n) < 0.3).astype(float)
    part = fit_linear(x, y, ["tier", "budget", "empty"], ["tier"], None, 1.0)
    finite = x[np.isfinite(x[:, 1]), 1]
    assert (part.encoders[1]["lo"], part.encoders[1]["hi"]) == (finite.min(), finite.max())
    assert (part.encoders[2]["lo"], part.encoders[2]["hi"]) == (0.0, 0.0)
    far = x[:1].copy()
    far[0, 1] = 1e12
    at_edge = far.copy()
    at_edge[0, 1] = finite.max()
    assert part.log_odds_one(far) == part.log_odds_one(at_edge)


def test_weight_ties_go_to_lightgbm() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-z))).astype(float)
    mask = np.ones(500, dtype=bool)
    w, report = select_weight(z, z, y, mask, (0.0, 0.5, 1.0))
    assert w == 1.0 and len(report) == 3
    w, _ = select_weight(z, rng.normal(size=500), y, mask, (0.0, 0.5, 1.0))
    assert w == 1.0


def test_the_first_k_trees_of_a_longer_run_are_a_k_tree_fit() -> None:
    """honest_lgbm_oof reads a fold's refit off its early-stopping run: the same trees."""
    spec = load_spec(DEFAULT_SPEC)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(800, 3)), (rng.random(800) < 0.3).astype(float)
    names = ["a", "b", "c"]
    params = booster_params(load_config().lightgbm | {"num_threads": 1}, spec, names)
    data = dataset(x, y, names, [], recency_weights(np.arange(800.0), 2.0))
    long = lgb.train(params, data, num_boost_round=60)
    short = lgb.train(params, dataset(x, y, names, [], recency_weights(np.arange(800.0), 2.0)), 25)
    np.testing.assert_array_equal(
        long.predict(x, raw_score=True, num_iteration=25), short.predict(x, raw_score=True)
    )
    # and a run trained on past its end (a refit longer than its early-stopping run) is the
    # longer run: the same trees
    short = lgb.train(params, dataset(x, y, names, [], recency_weights(np.arange(800.0), 2.0)), 25,
                      keep_training_booster=True)  # fmt: skip
    for _ in range(35):
        short.update()
    np.testing.assert_array_equal(long.predict(x, raw_score=True), short.predict(x, raw_score=True))


def test_blend_config_is_typed() -> None:
    cfg = load_config()
    assert cfg.blend.enabled and cfg.blend.w_grid[0] == 0.0 and cfg.blend.w_grid[-1] == 1.0
    assert len(cfg.blend.w_grid) == 21
    raw = cfg.model_dump()
    with pytest.raises(ValidationError, match="half_lives"):
        TrainingConfig.model_validate(raw | {"blend": raw["blend"] | {"half_lives": [1]}})
    with pytest.raises(ValidationError, match="w must be in"):
        TrainingConfig.model_validate(raw | {"blend": raw["blend"] | {"w_values": [1.5]}})
    with pytest.raises(ValidationError, match="half-life is positive"):
        TrainingConfig.model_validate(raw | {"blend": raw["blend"] | {"lgbm_half_life_grid": [0]}})
    # per-learner grids (tuning's) default to the shared one
    assert cfg.blend.lgbm_half_lives == cfg.blend.linear_half_lives == (None, 8.0, 4.0, 2.0)
    own = cfg.blend.model_copy(update={"linear_half_life_grid": [2.0]})
    assert own.linear_half_lives == (2.0,) and own.lgbm_half_lives == (None, 8.0, 4.0, 2.0)


def test_half_lives_c_and_w_are_chosen_together_on_the_blends_loss(fast_config) -> None:
    """Every setting is judged by the blend it enters: the chosen ones minimise the blend's
    pooled out-of-fold log loss over the whole grid (not each learner's own loss)."""
    spec = load_spec(DEFAULT_SPEC)
    grids = {"c_grid": [0.03, 0.1, 0.3], "half_life_grid": [None, 4.0, 2.0]}
    config = fast_config.model_copy(update={"blend": fast_config.blend.model_copy(update=grids)})
    # a history where the linear part's best settings alone are not its best in the blend
    prep = prepare(simulated_frame(1500, 3, spec), spec)
    choice = choose_blend_model(prep, config.lightgbm, config)
    alone = choice.report["linear_oof_logloss"]
    assert min(alone, key=alone.__getitem__) != (
        f"C={choice.linear.C} half_life={choice.linear.half_life}"
    )
    bc, names, cats = config.blend, prep.fb.feature_names, prep.fb.categorical_features
    x, y, days, m = prep.x, prep.y, prep.days, choice.mask
    folds = time_folds(days, config.cv_folds)
    lins = linear_oofs(
        x, y, days, folds, names, cats, spec.monotone, tuple(bc.c_grid), bc.linear_half_lives
    )
    losses = {}
    for hl in bc.lgbm_half_lives:
        tree = honest_lgbm_oof(
            x,
            y,
            days,
            names,
            cats,
            spec,
            config.lightgbm,
            folds,
            hl,
            config.max_rounds,
            config.early_stopping_rounds,
        ).oof_logit
        for (hl_lin, C), lz in lins.items():
            for w in bc.w_grid:
                losses[hl, hl_lin, C, w] = logloss(y[m], w * tree[m] + (1 - w) * lz[m])
    chosen = (choice.lgbm_half_life, choice.linear.half_life, choice.linear.C, choice.w)
    assert losses[chosen] == pytest.approx(min(losses.values()), abs=1e-12)
    assert logloss(y[m], choice.oof_logit[m]) == pytest.approx(losses[chosen], abs=1e-12)
    by_lgbm = choice.report["blend_oof_logloss_by_lgbm_half_life"]
    assert min(by_lgbm.values()) == choice.report["oof_logloss"]["blend"]


def test_large_histories_choose_on_a_sample_and_fit_the_choice_on_every_row(fast_config) -> None:
    """Past ``choice_rows`` the half-life is judged on a sample; the chosen LightGBM run is on
    every row of the latest two folds, and the blend covers exactly their validation rows."""
    spec = load_spec(DEFAULT_SPEC)
    prep = prepare(simulated_frame(1500, 3, spec), spec)
    x, y, days, fb = prep.x, prep.y, prep.days, prep.fb
    folds = time_folds(days, fast_config.cv_folds)
    bc, names, cats = fast_config.blend, fb.feature_names, fb.categorical_features
    args = (x, y, days, folds, names, cats, spec, fast_config.lightgbm)
    grids = (fast_config.max_rounds, fast_config.early_stopping_rounds, bc.lgbm_half_lives)
    grids += (bc.linear_half_lives, tuple(bc.c_grid), bc.w_grid)
    whole = choose_blend(*args, *grids)
    sampled = choose_blend(*args, *grids, choice_rows=600)
    assert whole.report["lgbm_half_life_rows"] == len(y)
    assert sampled.report["lgbm_half_life_rows"] == 600
    assert whole.folds == folds and whole.report["oof_folds"] == len(folds)
    latest = folds[-LATEST_FOLDS:]
    assert sampled.folds == latest and sampled.report["oof_folds"] == LATEST_FOLDS
    np.testing.assert_array_equal(sampled.mask, oof_mask(len(y), latest))
    assert np.isfinite(sampled.oof_logit[sampled.mask]).all()
    assert np.isnan(sampled.oof_logit[~sampled.mask]).all()
    # the chosen half-life's run is on every row of those folds, not on the sample
    again = honest_lgbm_oof(
        x, y, days, names, cats, spec, fast_config.lightgbm, latest, sampled.lgbm_half_life,
        fast_config.max_rounds, fast_config.early_stopping_rounds,
    )  # fmt: skip
    np.testing.assert_array_equal(sampled.lgbm.oof_logit, again.oof_logit)


def test_linear_fold_fits_on_a_sample_predict_every_validation_row(fast_config) -> None:
    spec = load_spec(DEFAULT_SPEC)
    prep = prepare(simulated_frame(1500, 3, spec), spec)
    x, y, days, fb = prep.x, prep.y, prep.days, prep.fb
    folds = time_folds(days, fast_config.cv_folds)
    args = (x, y, days, folds, fb.feature_names, fb.categorical_features, spec.monotone)
    grids = ((0.1, 1.0), (None,))
    every = linear_oofs(*args, *grids)
    (first_tr, first_va), *later = folds
    sampled = linear_oofs(*args, *grids, max_rows=len(first_tr))  # every block but the first
    mask = ~np.isnan(every[None, 0.1])
    for key in every:
        assert np.isfinite(sampled[key][mask]).all() and np.isnan(sampled[key][~mask]).all()
        # a block within the limit is fitted on every row, bit for bit; longer ones on a sample
        np.testing.assert_array_equal(sampled[key][first_va], every[key][first_va])
        assert all((sampled[key][va] != every[key][va]).any() for _, va in later)


def test_linear_fold_fits_on_two_threads_are_those_of_one() -> None:
    spec = load_spec(DEFAULT_SPEC)
    prep = prepare(simulated_frame(1500, 3, spec), spec)
    fb = prep.fb
    args = (prep.x, prep.y, prep.days, time_folds(prep.days, 3), fb.feature_names)
    args += (fb.categorical_features, spec.monotone, (0.1, 1.0), (None, 2.0))
    one, two = linear_oofs(*args, threads=1), linear_oofs(*args, threads=2)
    assert one.keys() == two.keys()
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])
