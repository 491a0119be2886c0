"""The concept schema built from a spec plus what training saw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.build import FeatureBuilder
from features.columns import from_frame
from features.schema import ConceptSchema
from features.spec import DatasetSpec, load_spec
from training import DEFAULT_SPEC
from training.dataset import simulated_frame

BEFORE = Path(__file__).with_name("concept_schema_before.json")


def schema_of(spec: DatasetSpec, frame: pd.DataFrame, label: str = "label") -> ConceptSchema:
    columns = from_frame(frame, spec)
    return ConceptSchema(spec, FeatureBuilder.fit(columns, frame[label].to_numpy(), spec))


@pytest.fixture(scope="module")
def simulated() -> ConceptSchema:
    spec = load_spec(DEFAULT_SPEC)
    frame = simulated_frame(3000, 4, spec)
    return schema_of(spec, frame.assign(launch_date=frame["launch_day"]))


def test_simulated_spec_gives_the_api_it_had(simulated: ConceptSchema) -> None:
    """Field names, types, bounds, defaults, descriptions and example as the hand-written
    Concept had them (its JSON schema is frozen in concept_schema_before.json); vocabularies
    are the same sets."""
    before = json.loads(BEFORE.read_text())
    now = simulated.model.model_json_schema(by_alias=True)
    assert now["example"] == before["example"]
    assert now["additionalProperties"] is False
    assert set(now["required"]) == set(before["required"])
    assert set(now["properties"]) == set(before["properties"])
    for name, old in before["properties"].items():
        new = dict(now["properties"][name])
        new.pop("unit", None)  # new: the unit, said apart from the description
        if "enum" in old:
            assert set(new.pop("enum")) == set(old.pop("enum")), name
        assert new == old, name


def test_counts_consistent_and_field_named(simulated: ConceptSchema) -> None:
    good = dict(simulated.example)
    assert simulated.validate(good)["concept_id"] == good["concept_id"]
    with pytest.raises(ValidationError, match="test_positive exceeds test_trials") as err:
        simulated.validate(good | {"test_positive": good["test_trials"] + 1})
    assert err.value.errors()[0]["loc"] == ("test_positive",)  # the part's error names it
    with pytest.raises(ValidationError, match="interested exceeds reach"):
        simulated.validate(good | {"interested": good["reach"] + 1})
    with pytest.raises(ValidationError) as err:
        simulated.validate(good | {"category": "skincar"})
    assert err.value.errors()[0]["loc"] == ("category",)
    assert err.value.errors()[0]["msg"] == (
        "'skincar' is not one of the 10 allowed values; closest: 'skincare'"
    )
    where = simulated.check(good, ("concepts", 3))  # a valid concept: the model back
    assert where.model_dump(by_alias=True)["category"] == good["category"]
    with pytest.raises(ValidationError) as err:
        simulated.check(good | {"category": 3, "price": -1}, ("concepts", 3))
    assert [e["loc"] for e in err.value.errors()] == [
        ("concepts", 3, "category"),
        ("concepts", 3, "price"),
    ]
    assert err.value.errors()[0]["msg"] == "should be a string, one of the 10 allowed values"
    with pytest.raises(ValidationError, match="colour"):
        simulated.validate(good | {"colour": "red"})


def test_a_vocabulary_error_names_the_value_and_the_closest_allowed_ones() -> None:
    from features.schema import vocabulary_message

    many = tuple(f"subcategory {i:03d}" for i in range(150)) + ("tabletop games",)
    said = vocabulary_message(many, "Table-top Games")  # case and punctuation: still close
    assert said == (
        "'Table-top Games' is not one of the 151 allowed values; closest: 'tabletop games'"
    )
    assert vocabulary_message(many, "zz") == (
        "'zz' is not one of the 151 allowed values, and none is close"
    )
    few = ("war", "trade", "party")
    assert vocabulary_message(few, "zz") == (
        "'zz' is not one of the 3 allowed values: 'war', 'trade', 'party'"
    )
    long = "q" * 500
    assert vocabulary_message(few, long).startswith(f"'{'q' * 40}…' is not one")
    assert vocabulary_message(few, None) == (
        "should be a string, one of the 3 allowed values: 'war', 'trade', 'party'"
    )


def test_an_invalid_concept_is_named_by_its_id_unless_the_id_is_wrong(
    simulated: ConceptSchema,
) -> None:
    good = dict(simulated.example)
    with pytest.raises(ValidationError) as err:
        simulated.check(bad := good | {"price": "x"})
    assert simulated.id_of(bad, err.value) == good["concept_id"]
    assert simulated.error_line("row 3", bad, err.value) == (
        f"row 3 (concept_id {good['concept_id']!r}): price: Input should be a valid number"
    )
    with pytest.raises(ValidationError) as err:
        simulated.check(bad := good | {"concept_id": "x" * 129})
    assert simulated.id_of(bad, err.value) is None
    assert simulated.error_line("row 3", bad, err.value).startswith("row 3: concept_id: ")
    with pytest.raises(ValidationError) as err:
        simulated.check(["not", "a", "concept"])
    assert simulated.error_line("row 3", [], err.value).startswith("row 3: concept: ")


def test_simulated_levers_segments_and_description(simulated: ConceptSchema) -> None:
    assert list(simulated.levers) == [
        "price",
        "marketing_budget",
        "seeding_posts",
        "launch_date",
        "test_samples_sent",
    ]
    assert simulated.levers["test_samples_sent"].kind == "sample_size"
    assert simulated.levers["price"].unit == "CNY per unit"
    assert len(simulated.segments) == 8
    page = simulated.describe()
    assert page["segment_field"] == "target_segment" and page["outcome"] == "gmv_90d"
    assert [f["name"] for f in page["fields"] if f["pre_test"]] == [
        "test_samples_sent",
        "test_trials",
        "test_positive",
        "test_repurchase",
    ]
    json.dumps(page)  # the page reads it as JSON


# ---- a spec of another shape ------------------------------------------------------------------
OTHER = {
    "name": "board_games",
    "source": "board_games.csv",
    "id_column": "title",
    "date_column": "year",
    "date_is_year": True,
    "target": {"column": "hit"},
    "categorical": ["theme", "studio"],
    "numeric": ["year", "list price", "players"],
    "entities": ["designer"],
    "inputs": {
        "studio": {"vocabulary": "open"},
        "list price": {"description": "Price in the shop.", "unit": "EUR", "gt": 0, "le": 500},
        "players": {"whole": True, "ge": 1, "le": 12},
    },
}


def board_games(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "title": [f"game {i}" for i in range(n)],
            "year": rng.integers(2000, 2020, n),
            "theme": rng.choice(["war", "trade", "party"], n),
            "studio": rng.choice(["north", "south", "east"], n),
            "list price": rng.uniform(10, 90, n).round(2),
            "players": rng.integers(1, 7, n),
            "designer": rng.choice(["ana", "bo", "cy", None], n),
        }
    )
    frame["hit"] = (rng.uniform(size=n) < 0.2 + 0.3 * (frame["theme"] == "party")).astype(int)
    return frame


def test_another_shape() -> None:
    spec = DatasetSpec.model_validate(OTHER)
    schema = schema_of(spec, board_games(), label="hit")
    kinds = {f.name: f.kind for f in schema.fields}
    assert kinds == {
        "title": "id",
        "year": "year",
        "theme": "category",
        "studio": "category",
        "list price": "number",
        "players": "count",
        "designer": "entity",
    }
    # designer had gaps in training: optional; the example is a recent complete launch
    assert not schema.by_name["designer"].required and schema.by_name["theme"].required
    example = schema.example
    assert example["year"] == 2019 and "designer" in example
    ok = schema.validate(example)
    assert ok["list price"] == example["list price"]  # a column name that is no identifier
    assert schema.validate({k: v for k, v in example.items() if k != "designer"})
    with pytest.raises(ValidationError, match="'party'"):  # closed: the allowed values listed
        schema.validate(example | {"theme": "partyy"})
    assert schema.validate(example | {"studio": "west"})["studio"] == "west"  # open
    with pytest.raises(ValidationError, match="players"):
        schema.validate(example | {"players": 13})
    with pytest.raises(ValidationError, match="list price"):
        schema.validate(example | {"list price": 0})
    assert set(schema.levers) == {"year", "list price", "players"} and schema.segments == []
    optional = OTHER | {"inputs": {**OTHER["inputs"], "theme": {"optional": True}}}
    theme = schema_of(DatasetSpec.model_validate(optional), board_games(), "hit").by_name["theme"]
    assert not theme.required and theme.default is None
    assert schema.describe()["outcome"] is None


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_number_is_refused_without_bounds_too(raw: str) -> None:
    """A number with no bounds (which NaN and infinities would otherwise fail) and a whole
    count: refused by name, as JSON spells them (1e400 parses as infinity)."""
    inputs = {**OTHER["inputs"], "list price": {"description": "Price in the shop."}}
    schema = schema_of(DatasetSpec.model_validate(OTHER | {"inputs": inputs}), board_games(), "hit")
    assert schema.by_name["list price"].bounds == {}
    for field in ("list price", "players"):
        sent = json.dumps({**schema.example, field: "__RAW__"}).replace('"__RAW__"', raw)
        with pytest.raises(ValidationError) as err:
            schema.model.model_validate_json(sent)
        assert [e["loc"] for e in err.value.errors()] == [(field,)], err.value


def test_differences_name_what_changed(simulated: ConceptSchema) -> None:
    spec = DatasetSpec.model_validate(OTHER)
    other = schema_of(spec, board_games(), label="hit")
    assert simulated.differences(simulated) == []
    assert other.differences(schema_of(spec, board_games(seed=1), label="hit")) == []
    diff = simulated.differences(other)
    assert "field 'price' removed" in diff and "field 'theme' added" in diff
    wider = DatasetSpec.model_validate(
        OTHER | {"inputs": {**OTHER["inputs"], "players": {"whole": True, "le": 20}}}
    )
    diff = other.differences(schema_of(wider, board_games(), label="hit"))
    assert diff == ["field 'players': ge, le differ"]


def test_spec_refuses_bad_schema_keys() -> None:
    with pytest.raises(ValidationError, match="inputs.colour"):
        DatasetSpec.model_validate(OTHER | {"inputs": {"colour": {}}})
    with pytest.raises(ValidationError, match="segment_column 'players'"):
        DatasetSpec.model_validate(OTHER | {"segment_column": "players"})
    with pytest.raises(ValidationError, match="levers: 'theme' cannot be swept"):
        DatasetSpec.model_validate(OTHER | {"levers": ["theme"]})
