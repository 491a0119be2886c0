"""Input drift: PSI against the training distribution frozen with the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.build import FeatureBuilder
from features.columns import from_frame
from features.profile import PSI_ACT, PSI_WATCH, InputProfile, psi
from features.simulator import Drift, simulate
from features.spec import load_spec
from training import DEFAULT_SPEC

SPEC = load_spec(DEFAULT_SPEC)


def columns(frame):
    return from_frame(frame, SPEC)


@pytest.fixture(scope="module")
def profile() -> InputProfile:
    return InputProfile.fit(columns(simulate(8000, 1)), SPEC)


def test_psi_of_a_known_shift() -> None:
    e = np.array([0.5, 0.5])
    a = np.array([0.8, 0.2])
    assert psi(e, a) == pytest.approx(0.3 * np.log(1.6) + (-0.3) * np.log(0.4))
    assert psi(e, e) == 0.0
    assert np.isfinite(psi(np.array([1.0, 0.0]), np.array([0.5, 0.5])))  # empty bin: floored


def test_same_world_is_stable(profile: InputProfile) -> None:
    later = simulate(3000, 2, start="2026-01-01", end="2026-07-01")
    drift = profile.drift(columns(later))
    assert {d.field for d in drift} == set(SPEC.input_columns()) - {SPEC.date_column}
    assert all(d.level == "stable" for d in drift), [(d.field, d.psi) for d in drift]


def test_drifted_fields_are_named(profile: InputProfile) -> None:
    world = Drift(segment_mix={"gen_z": 6.0, "urban_silver": 6.0}, price_inflation=1.6)
    later = simulate(3000, 2, start="2026-01-01", end="2026-07-01", drift=world)
    by_field = {d.field: d for d in profile.drift(columns(later))}
    for name in world.drifted_fields():
        assert by_field[name].psi >= PSI_ACT and by_field[name].level == "act", by_field[name]
    assert by_field["novelty"].psi < PSI_WATCH  # untouched by this drift


def test_too_few_concepts_say_so(profile: InputProfile) -> None:
    few = profile.drift(columns(simulate(50, 3)))
    assert all(d.level == "too few" and d.psi is None and d.n == 50 for d in few)


def test_frozen_with_the_feature_builder(profile: InputProfile) -> None:
    frame = simulate(2000, 4)
    fb = FeatureBuilder.fit(columns(frame), frame["hit"].to_numpy(), SPEC)
    back = FeatureBuilder.from_dict(json.loads(json.dumps(fb.to_dict())))
    assert back.input_profile == fb.input_profile and back.input_profile is not None
    assert back.input_profile.fields["category"].levels  # categories: the levels seen
