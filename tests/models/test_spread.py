"""The interval's arithmetic (models.uncertainty): its centre, its sides, a model saved before
the sides existed."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from scipy.special import expit, logit

from models.uncertainty import FILE, Spread, centre_of_mean
from training.uncertainty import fit_spread


def test_the_centre_has_the_calibrated_probability_as_its_mean() -> None:
    """E[expit(mu + sd * e)] = p, checked by simulation; mu lies away from 0.5 for a spread-out
    probability (a calibrated p is a mean, pulled toward 0.5 from its middle), and is logit(p)
    itself with no spread."""
    p = np.array([0.002, 0.03, 0.5, 0.8, 0.3])
    sd = np.array([2.0, 1.0, 1.5, 0.7, 0.0])
    mu = centre_of_mean(p, sd)
    e = np.random.default_rng(0).standard_normal(400_000)
    simulated = expit(mu[:, None] + sd[:, None] * e).mean(axis=1)
    assert simulated == pytest.approx(p, rel=0.01)
    assert mu[0] < logit(p[0]) - 1.5 and mu[1] < logit(p[1])  # about sd^2 / 2 below, near 0
    assert mu[2] == pytest.approx(0.0, abs=1e-9) and mu[3] > logit(p[3])
    assert mu[4] == pytest.approx(logit(p[4]))


def small_spread(tmp_path: Path) -> tuple[Spread, np.ndarray]:
    rng = np.random.default_rng(2)
    z = rng.normal(-2.5, 1.5, 3000)
    y = (rng.uniform(size=3000) < expit(z)).astype(int)
    x = z[:, None]

    def member(rows: np.ndarray, seed: int) -> tuple[lgb.Booster, None]:
        data = lgb.Dataset(x[rows], y[rows], params={"verbose": -1})
        params = {"objective": "binary", "verbose": -1, "seed": seed, "num_leaves": 4}
        return lgb.train(params, data, 20), None

    spread = fit_spread(y, z, member, 1.0, 2, 0.8, 0.05, 100_000, scale=1.5, pair_scale=1.2)
    spread.save(tmp_path)
    return spread, np.array([[-6.0], [-2.0], [1.0]])


def test_the_interval_holds_the_probability_and_its_low_side_is_longer(tmp_path: Path) -> None:
    spread, x = small_spread(tmp_path)
    sure = spread.assess(x, x[:, 0], None)
    lo, hi = spread.interval(sure, expit)
    p = expit(x[:, 0])
    assert np.all(lo <= p) and np.all(p <= hi) and np.all(lo < hi)
    # at 0.25 % few hits back the level: far more room below than above, in log-odds
    assert logit(p[0]) - logit(lo[0]) > logit(hi[0]) - logit(p[0])


def test_a_model_saved_before_the_sides_and_pair_scale_still_loads(tmp_path: Path) -> None:
    spread, x = small_spread(tmp_path)
    state = json.loads((tmp_path / FILE).read_text())
    for key in ("pair_scale", "member_rescale"):
        del state[key]
    del state["evidence"]["lower"], state["evidence"]["upper"]
    (tmp_path / FILE).write_text(json.dumps(state))
    old = Spread.load(tmp_path)
    assert old is not None and old.pair_scale == old.scale == 1.5
    sure = old.assess(x, x[:, 0], None)
    assert sure.sd_low == pytest.approx(sure.sd) and sure.sd_high == pytest.approx(sure.sd)
