"""The spec's outcomes over time and its funnel: what it accepts and what it refuses, by name."""

from __future__ import annotations

import pytest

from features.spec import DatasetSpec, load_spec
from training import DEFAULT_SPEC

RAW = load_spec(DEFAULT_SPEC).model_dump()


def test_horizons_shortest_first_and_the_headline() -> None:
    spec = DatasetSpec.model_validate(RAW | {"outcomes": {"gmv_360d": 360, "gmv_30d": 30}})
    assert spec.horizons() == [("gmv_30d", 30), ("gmv_360d", 360)]
    assert spec.headline_outcome() == "gmv_360d"  # gmv_90d is not one of them
    assert load_spec(DEFAULT_SPEC).headline_outcome() == "gmv_90d"
    single = DatasetSpec.model_validate(RAW | {"outcomes": {}})
    assert single.horizons() == [] and single.headline_outcome() == "gmv_90d"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcomes": {"gmv_30d": 0}}, "outcomes.gmv_30d: 0 days"),
        ({"outcomes": {"price": 30}}, "outcomes.price: an outcome cannot be an input"),
        ({"outcomes": {"a": 30, "b": 30}}, "two columns name the same number of days"),
        ({"funnel": ["interest", "colour"]}, "funnel: 'colour' is not a count pair"),
        ({"funnel": ["interest", "interest"]}, "a count pair is named twice"),
    ],
)
def test_refused_by_name(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatasetSpec.model_validate(RAW | change)


def test_a_rating_is_no_funnel_stage() -> None:
    rated = {"name": "stars", "trials": "reach", "rate": "novelty", "rate_scale": 1.0}
    raw = RAW | {"count_pairs": [*RAW["count_pairs"], rated]}
    with pytest.raises(ValueError, match="'stars' is a mean rating"):
        DatasetSpec.model_validate(raw | {"funnel": ["interest", "stars"]})
