"""POST /compare over HTTP: its documented example answered by the simulated service (in
process) and by a real `bentoml serve` of the video games champion; what it logs; its 400s."""

from __future__ import annotations

import httpx
import pytest

from serving.responses import CompareResult


def documented(doc: dict) -> dict:
    """/compare's request example as the service's own OpenAPI documents it."""
    body = doc["paths"]["/compare"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return {"concepts": schema["properties"]["concepts"]["examples"][0]}


def check(answer: dict, request: dict, id_field: str) -> None:
    CompareResult.model_validate(answer)
    ids = [c[id_field] for c in request["concepts"]]
    assert sorted(r["concept_id"] for r in answer["ranking"]) == sorted(ids)
    assert len(answer["pairs"]) == len(ids) - 1
    for r in answer["ranking"]:
        assert r["interval"]["low"] <= r["hit_probability"] <= r["interval"]["high"]
    for p in answer["pairs"]:
        assert sum(d["log_odds"] for d in p["why"]) == pytest.approx(
            p["log_odds_difference"], abs=1e-9
        )


def test_the_documented_example_simulated(client) -> None:
    from scoring.prediction_log import PredictionLog

    request = documented(client.get("/docs.json").json())
    assert len(request["concepts"]) >= 2
    r = client.post("/compare", json=request)
    assert r.status_code == 200, r.text
    answer = r.json()
    check(answer, request, "concept_id")
    # every compared concept logged with its ranked entry
    log = PredictionLog()
    rows = log.query(
        "SELECT concept_id, outputs FROM predictions WHERE request_id = ?", (answer["request_id"],)
    )
    log.close()
    assert sorted(r[0] for r in rows) == sorted(c["concept_id"] for c in request["concepts"])
    assert all('"interval"' in r[1] and '"rank"' in r[1] for r in rows)
    # a pair asked for by id
    a, b = (c["concept_id"] for c in request["concepts"][:2])
    asked = client.post("/compare", json=request | {"pairs": [{"a": a, "b": b}]}).json()
    assert [(p["a"], p["b"]) for p in asked["pairs"]] == [(a, b)]


def test_the_documented_example_video_games(video_games_url: str) -> None:
    doc = httpx.get(f"{video_games_url}/docs.json", timeout=30).json()
    request = documented(doc)
    r = httpx.post(f"{video_games_url}/compare", json=request, timeout=30)
    assert r.status_code == 200, r.text
    check(r.json(), request, "Name")


def test_bad_requests_name_what_is_wrong(client, concept: dict) -> None:
    one = client.post("/compare", json={"concepts": [concept]})
    assert one.status_code == 400 and "concepts" in one.text
    twins = client.post("/compare", json={"concepts": [concept, concept]})
    assert twins.status_code == 400 and "concepts.1.concept_id" in twins.text
    other = concept | {"concept_id": "other"}
    unknown = client.post(
        "/compare", json={"concepts": [concept, other], "pairs": [{"a": "other", "b": "x"}]}
    )
    assert unknown.status_code == 400 and "pairs.0.b" in unknown.text


def test_an_invalid_concept_costs_only_itself(client, concept: dict) -> None:
    """Three concepts, the middle one invalid: the other two are ranked, the bad one listed
    with its place, id and field; with one valid concept left, a 400 naming the bad one."""
    bad = concept | {"concept_id": "bad", "price": -5}
    good = concept | {"concept_id": "other", "price": concept["price"] * 0.8}
    r = client.post("/compare", json={"concepts": [concept, bad, good]})
    assert r.status_code == 200, r.text
    out = CompareResult.model_validate(r.json())
    assert {c.concept_id for c in out.ranking} == {concept["concept_id"], "other"}
    (error,) = out.invalid
    assert (error.index, error.concept_id) == (1, "bad") and "price" in error.error
    alone = client.post("/compare", json={"concepts": [concept, bad]})
    assert alone.status_code == 400 and "1 valid" in alone.text and "price" in alone.text
