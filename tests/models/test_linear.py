"""The linear part's scoring: the prepared fast path equals the literal design matrix, its terms
add up, it answers beyond the training range as at its edge, and it survives JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.linear import LinearPart

NAMES = ["tier", "region", "price", "lift", "count"]  # codes first, as FeatureBuilder lays them


# the training ranges of the numeric features (price, lift, count): _rows goes past them
RANGES = [(-20.0, 40.0), (-2.0, 2.5), (12.0, 30.0)]


def _part(seed: int = 0, ranges: bool = True) -> LinearPart:
    """``ranges`` False: a part saved before the ranges were recorded."""
    rng = np.random.default_rng(seed)
    encoders = [
        {"kind": "cat", "levels": [0.0, 2.0, 3.0]},  # code 1 is rare: "other"
        {"kind": "cat", "levels": []},  # no frequent level at all
        {"kind": "num", "log": True, "median": 1.2, "mean": 1.0, "sd": 0.7, "indicator": True},
        {"kind": "num", "log": False, "median": 0.1, "mean": 0.0, "sd": 2.0, "indicator": False},
        {"kind": "num", "log": True, "median": 3.0, "mean": 2.5, "sd": 1.5, "indicator": False},
    ]
    for enc, (lo, hi) in zip(encoders[2:], RANGES, strict=True):
        enc.update({"lo": lo, "hi": hi} if ranges else {})
    part = LinearPart(NAMES, encoders, C=0.3)
    n_cols = len(part.owners)
    part.coef = rng.normal(size=n_cols).tolist()
    part.coef[-1] = 0.0  # a coefficient at its monotone bound
    part.intercept = -1.7
    part.reference = rng.uniform(0, 1, size=n_cols).tolist()
    return part


def _rows(n: int = 300, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.integers(0, 6, n).astype(float),  # includes unseen codes 4, 5 and rare 1
            rng.integers(0, 3, n).astype(float),
            rng.lognormal(0, 2, n) * rng.choice([-1, 1], n),
            rng.normal(0, 3, n),
            rng.poisson(20, n).astype(float),
        ]
    )
    x[rng.random((n, 5)) < 0.1] = np.nan  # missing values and unknown categories
    x[::37, 2] = np.inf
    x[::41, 3] = -np.inf
    return x


def test_fast_path_equals_the_design_matrix() -> None:
    part, x = _part(), _rows()
    np.testing.assert_allclose(part.log_odds(x), part.literal_log_odds(x), atol=1e-12)
    for i in range(20):  # the one-row path the service takes
        expected = part.literal_log_odds(x[i : i + 1])[0]
        assert part.log_odds(x[i : i + 1])[0] == pytest.approx(expected, abs=1e-12)
        assert part.log_odds_one(x[i : i + 1]) == pytest.approx(expected, abs=1e-12)


def test_contributions_and_base_add_up_to_the_log_odds() -> None:
    part, x = _part(), _rows()
    terms = part.contributions(x)
    assert terms.shape == (len(x), len(NAMES) + 1)
    np.testing.assert_allclose(terms.sum(axis=1), part.log_odds(x), atol=1e-12)
    one = part.contributions(x[:1])
    np.testing.assert_allclose(one, terms[:1], atol=1e-12)
    # the base is the reference row's log-odds; a feature's term is zero at the reference
    base = part.intercept + float(np.dot(part.coef, part.reference))
    np.testing.assert_allclose(terms[:, -1], base)


def test_scale_multiplies_everything() -> None:
    part, x = _part(), _rows()
    np.testing.assert_allclose(part.log_odds(x, 0.35), 0.35 * part.log_odds(x), atol=1e-12)
    np.testing.assert_allclose(
        part.contributions(x[:3], 0.35), 0.35 * part.contributions(x[:3]), atol=1e-12
    )


def test_json_round_trip() -> None:
    part, x = _part(), _rows()
    again = LinearPart.from_dict(json.loads(json.dumps(part.to_dict())))
    np.testing.assert_array_equal(again.log_odds(x), part.log_odds(x))
    bad = part.to_dict() | {"coef": part.coef[:-1]}
    with pytest.raises(ValueError, match="do not match"):
        LinearPart.from_dict(bad)


def test_one_row_without_the_combination_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many combinations of categorical codes: one row takes the per-feature table."""
    import models.linear

    monkeypatch.setattr(models.linear, "MAX_COMBINATIONS", 1)
    part, x = _part(), _rows()
    assert part.prepared().combo is None
    for i in range(20):
        expected = part.literal_log_odds(x[i : i + 1])[0]
        assert part.log_odds_one(x[i : i + 1]) == pytest.approx(expected, abs=1e-12)
        np.testing.assert_allclose(part.contributions(x[i : i + 1]).sum(), expected, atol=1e-12)


def _edge(x: np.ndarray) -> np.ndarray:
    """``x`` with each numeric feature clipped to its training range (NaN, +-inf kept)."""
    out = x.copy()
    for j, (lo, hi) in enumerate(RANGES, start=2):
        finite = np.isfinite(out[:, j])
        out[finite, j] = np.clip(out[finite, j], lo, hi)
    return out


def test_beyond_the_training_range_a_feature_answers_as_at_its_edge() -> None:
    """Every path (many rows, one row, the drivers) answers a value past the range as the
    range's edge, +-inf and NaN stay missing, and the drivers still add up to the log-odds."""
    part, x = _part(), _rows()
    far = x.copy()
    for j, (lo, hi) in enumerate(RANGES, start=2):
        past = np.isfinite(far[:, j])
        far[past & (far[:, j] > hi), j] = 1e12
        far[past & (far[:, j] < lo), j] = -1e308
    assert (np.abs(far[:, 2:]) == 1e12).any() and (np.abs(far[:, 2:]) == 1e308).any()
    edge = _edge(x)
    assert (edge != x)[np.isfinite(x)].any()  # some rows were past the range
    np.testing.assert_array_equal(part.log_odds(far), part.log_odds(edge))
    np.testing.assert_array_equal(part.contributions(far), part.contributions(edge))
    for i in range(30):
        one, at_edge = far[i : i + 1], edge[i : i + 1]
        assert part.log_odds_one(one) == part.log_odds_one(at_edge)
        np.testing.assert_array_equal(part.contributions(one), part.contributions(at_edge))
        assert part.contributions(one).sum() == pytest.approx(part.log_odds_one(one), abs=1e-12)
    # +-inf is missing, not the edge: the literal design agrees
    np.testing.assert_allclose(part.log_odds(far), part.literal_log_odds(far), atol=1e-12)
    assert np.isinf(x[::37, 2]).all()


def test_a_part_saved_without_ranges_answers_as_it_did() -> None:
    """linear.json written before the ranges were recorded: loaded, not clipped."""
    old, x = _part(ranges=False), _rows()
    loaded = LinearPart.from_dict(json.loads(json.dumps(old.to_dict())))
    np.testing.assert_allclose(loaded.log_odds(x), old.literal_log_odds(x), atol=1e-12)
    assert (loaded.log_odds(x) != _part().log_odds(x)).any()  # the bounded part clips
    bad = _part().to_dict()
    bad["encoders"][2] = bad["encoders"][2] | {"lo": 3.0, "hi": 1.0}
    with pytest.raises(ValueError, match=r"price has the range \[3.0, 1.0\]"):
        LinearPart.from_dict(bad)
