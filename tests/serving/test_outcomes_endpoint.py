"""POST /outcomes: records of the served spec, all or nothing, behind the API key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from scoring.outcomes import OutcomeStore
from scoring.prediction_log import PredictionLog

KEY = "outcomes-test-key"


@pytest.fixture()
def store() -> Iterator[OutcomeStore]:
    """The service's outcome store, read through a connection of its own."""
    log = PredictionLog()
    yield OutcomeStore(log)
    log.close()


def ids(n: int) -> list[str]:
    """Ids no other test (nor the fuzzer) uses: the session shares one database."""
    prefix = uuid.uuid4().hex[:8]
    return [f"{prefix}-{i}" for i in range(n)]


def record(concept_id: str, /, **changes) -> dict:
    out = {"concept_id": concept_id, "launch_date": "2026-10-20", "hit": 1}
    return {k: v for k, v in (out | changes).items() if v is not DROP}


DROP = object()


def test_recorded_once_corrections_kept_unmatched_reported(
    client, concept: dict, store: OutcomeStore
) -> None:
    scored, never = ids(2)
    assert client.post("/score", json={"concepts": [concept | {"concept_id": scored}]}).is_success
    body = {"outcomes": [record(scored, gmv_90d=1_200_000.0), record(never, hit=0)]}
    r = client.post("/outcomes", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"recorded": 2, "duplicates": 0, "unmatched": 1, "unmatched_ids": [never]}
    r = client.post("/outcomes", json=body)  # a retried request changes nothing
    assert r.json() == {"recorded": 0, "duplicates": 2, "unmatched": 1, "unmatched_ids": [never]}
    r = client.post("/outcomes", json={"outcomes": [record(never, hit=1)]})  # a correction
    assert r.json()["recorded"] == 1
    assert [o.label for o in store.history(never)] == [0, 1]
    latest = {o.concept_id: o for o in store.latest("simulated")}
    assert latest[never].label == 1 and latest[never].source == "http"
    assert latest[scored].raw == {"gmv_90d": 1_200_000.0}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"hit": DROP}, "hit"),
        ({"hit": 2}, "hit"),
        ({"hit": "zq-marker-1"}, "hit"),
        ({"launch_date": "2026-13-45"}, "launch_date"),
        ({"gmv_90d": "zq-marker-2"}, "gmv_90d"),
        ({"concept_id": ""}, "concept_id"),
        ({"colour": "zq-marker-3"}, "colour"),
    ],
)
def test_a_bad_item_is_a_400_naming_it_and_nothing_is_recorded(
    client, store: OutcomeStore, changes: dict, field: str
) -> None:
    good, bad = ids(2)
    before = store.count()
    r = client.post("/outcomes", json={"outcomes": [record(good), record(bad, **changes)]})
    assert r.status_code == 400, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["outcomes", 1, field]]
    assert "zq-marker" not in r.text  # the field is named, what was sent is not repeated
    assert store.count() == before and store.history(good) == []


def test_an_empty_list_is_a_400(client) -> None:
    r = client.post("/outcomes", json={"outcomes": []})
    assert r.status_code == 400 and "outcomes" in r.text


def test_the_api_key_guards_it(champion: dict) -> None:
    from fresh_app import fresh_service

    (one,) = ids(1)
    body = {"outcomes": [record(one)]}
    with fresh_service(HIT_COMPASS_API_KEY=KEY) as client:
        assert client.post("/outcomes", json=body).status_code == 401
        assert client.post("/outcomes", json=body, headers={"X-API-Key": "nope"}).status_code == 401
        r = client.post("/outcomes", json=body, headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
