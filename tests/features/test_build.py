from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.build import FeatureBuilder, fit_pair_prior
from features.simulator import simulate
from features.spec import load_spec
from training.cli import DEFAULT_SPEC
from training.dataset import load_launches, to_columns


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("build") / "launches.parquet"
    simulate(3000, 4).to_parquet(path)
    return load_launches(load_spec(DEFAULT_SPEC), data=path).frame


def _builder(df: pd.DataFrame) -> FeatureBuilder:
    spec = load_spec(DEFAULT_SPEC)
    return FeatureBuilder.fit(to_columns(df, spec), df["label"].to_numpy(), spec)


def test_matrix_shape_and_names(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    x = fb.transform(to_columns(frame, fb.spec))
    assert x.shape == (len(frame), len(fb.feature_names))
    assert set(fb.feature_sources.values()) <= set(fb.spec.input_columns())
    assert np.isfinite(x[:, len(fb.spec.categorical) :]).all()


def test_unknown_category_is_missing_and_warned(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    cols = to_columns(frame.head(2), fb.spec)
    cols["category"] = np.array(["skincare", "space_tourism"])
    x = fb.transform(cols)
    assert not np.isnan(x[0, 0]) and np.isnan(x[1, 0])
    assert any("never seen" in w for w in fb.warnings(cols)[1])


def test_json_round_trip_gives_identical_matrix(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    again = FeatureBuilder.from_dict(json.loads(json.dumps(fb.to_dict())))
    cols = to_columns(frame, fb.spec)
    np.testing.assert_array_equal(fb.transform(cols), again.transform(cols))


def test_track_record_never_looks_ahead(frame: pd.DataFrame) -> None:
    """A launch's features do not change when later launches are added to the history."""
    early = frame.iloc[: len(frame) // 2]
    fb_early, fb_all = _builder(early), _builder(frame)
    cols = to_columns(early, fb_early.spec)
    names = fb_early.feature_names
    idx = [names.index("brand_prior_launches"), names.index("brand_hit_rate_eb")]
    a = fb_early.transform(cols)[:, idx]
    b = fb_all.transform(cols)[:, idx]
    np.testing.assert_array_equal(a, b)
    # and a launch's own outcome never feeds its own features
    flipped = frame.copy()
    flipped.loc[len(frame) - 1, "label"] = 1 - flipped.loc[len(frame) - 1, "label"]
    fb_flip = _builder(flipped)
    last = to_columns(frame.tail(1), fb_all.spec)
    np.testing.assert_array_equal(fb_all.transform(last), fb_flip.transform(last))


def test_shrinkage_pulls_small_samples_to_the_prior() -> None:
    rng = np.random.default_rng(0)
    trials = rng.integers(20, 400, 2000).astype(float)
    succ = rng.binomial(trials.astype(int), rng.beta(20, 30, 2000)).astype(float)
    prior = fit_pair_prior(succ, trials, np.array([""] * 2000, dtype=object))
    assert 0.35 < prior.global_mean < 0.45 and 10 < prior.kappa < 200
    small = (12 + prior.kappa * prior.global_mean) / (20 + prior.kappa)  # 12 of 20
    large = (600 + prior.kappa * prior.global_mean) / (1000 + prior.kappa)  # 600 of 1000
    assert abs(small - prior.global_mean) < abs(large - prior.global_mean)


def test_video_games_spec_loads_with_counted_problems() -> None:
    from pathlib import Path

    spec_path = Path(DEFAULT_SPEC).with_name("video_games.yaml")
    spec = load_spec(spec_path)
    loaded = load_launches(spec, spec_dir=spec_path.parent)
    assert loaded.report["missing_date"] > 0  # N/A years counted, not crashed on
    assert loaded.frame["Year_of_Release"].between(1996, 2014).all()
    assert loaded.frame["Critic_Count"].notna().all()
    assert 0.05 < loaded.frame["label"].mean() < 0.3
