"""The service in process: good answers, and 4xx naming the field for every bad input."""

from __future__ import annotations

import json

import httpx
import pytest


def test_scores_the_example(client, concept: dict, champion: dict) -> None:
    r = client.post("/score", json={"concepts": [concept]})
    assert r.status_code == 200, r.text
    (out,) = r.json()
    assert out["concept_id"] == concept["concept_id"]
    assert 0 < out["hit_probability"] < 1
    assert out["model_version"] == champion["version"]


def test_readyz_says_which_model_answers(client, champion: dict) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    answer = r.json()
    assert answer["model_version"] == champion["version"] and answer["model"] == "hit-compass"
    assert answer["model_tag"] == champion["bento_tag"] and answer["worker_pid"] > 0


def _with(concept: dict, **changes) -> dict:
    c = dict(concept)
    for k, v in changes.items():
        if v is _DROP:
            c.pop(k)
        else:
            c[k] = v
    return c


_DROP = object()
BAD = {
    "missing field": ({"price": _DROP}, "price"),
    "wrong type": ({"reach": "lots"}, "reach"),
    "string number": ({"price": "12.5"}, "price"),
    "negative count": ({"seeding_posts": -3}, "seeding_posts"),
    "more positives than trials": ({"test_positive": 500}, "test_positive exceeds test_trials"),
    "interest above reach": ({"interested": 10**8}, "interested exceeds reach"),
    "unknown category": ({"category": "space_tourism"}, "category"),
    "bad date": ({"launch_date": "2026-13-45"}, "launch_date"),
    "novelty above 1": ({"novelty": 1.5}, "novelty"),
    "unknown field": ({"colour": "red"}, "colour"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gets_4xx_naming_the_field(client, concept: dict, case: str) -> None:
    changes, field = BAD[case]
    r = client.post("/score", json={"concepts": [_with(concept, **changes)]})
    assert 400 <= r.status_code < 500, r.text
    assert field in r.text


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]  # 1e400: inf once parsed


def numeric_fields() -> list[tuple[str, str]]:
    from serving.service import SCHEMA

    kinds = ("number", "count", "year")
    return [(f.name, f.kind) for f in SCHEMA.fields if f.kind in kinds]


def test_every_non_finite_number_is_a_4xx_naming_its_field(client, concept: dict) -> None:
    """Every numeric input of the served schema, each non-finite spelling JSON parsers take,
    and 1e308 for a whole count: a 4xx naming the field (alone), an error item naming it (in a
    list), never an answer."""
    fields = numeric_fields()
    assert {kind for _, kind in fields} == {"number", "count"}  # the simulated spec's kinds
    for field, kind in fields:
        for raw in NON_FINITE + (["1e308", "-1e308"] if kind == "count" else []):
            item = _json_with_raw(concept, field, raw)
            one = client.post("/score", content='{"concepts": [' + item + "]}", headers=JSON)
            assert 400 <= one.status_code < 500 and field in one.text, (field, raw, one.text)
            body = '{"concepts": [' + item + ", " + json.dumps(concept) + "]}"
            two = client.post("/score", content=body, headers=JSON)
            assert two.status_code == 200, (field, raw, two.text)
            bad, good = two.json()
            assert bad["detail"][0]["loc"] == ["concepts", 0, field], (raw, bad)
            assert "hit_probability" not in bad and 0 < good["hit_probability"] < 1


JSON = {"content-type": "application/json"}


def _json_with_raw(concept: dict, key: str, raw: str) -> str:
    return json.dumps({**concept, key: "__RAW__"}).replace('"__RAW__"', raw)


def test_empty_list_rejected(client) -> None:
    r = client.post("/score", json={"concepts": []})
    assert 400 <= r.status_code < 500 and "concepts" in r.text


def test_not_json_rejected(client) -> None:
    r = client.post("/score", content=b"\x00garbage", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_error_does_not_echo_request_content(client, concept: dict) -> None:
    secret = "SECRET-VALUE-42"
    r = client.post("/score", json={"concepts": [_with(concept, price=secret, brand=[secret])]})
    assert r.status_code == 400 and "price" in r.text and "brand" in r.text
    assert secret not in r.text
    # a closed vocabulary's value is named (it is what the user must fix), cut short
    long = "skincare" + "x" * 200
    r = client.post("/score", json={"concepts": [_with(concept, category=long)]})
    assert r.status_code == 400 and long[:40] in r.text and long[:41] not in r.text


def test_a_vocabulary_typo_names_the_closest_values_not_all(client, concept: dict) -> None:
    """The 400 (one concept), the error item (several), /target's 400 and compass score's
    message all say the same: the value sent and the allowed values like it."""
    from serving.service import SCHEMA

    categories = SCHEMA.by_name["category"].values
    assert len(categories) == 10
    said = "'skincar' is not one of the 10 allowed values; closest: 'skincare'"
    one = client.post("/score", json={"concepts": [_with(concept, category="skincar")]})
    assert one.status_code == 400, one.text
    (problem,) = one.json()["detail"]
    assert problem["loc"] == ["concepts", 0, "category"] and problem["msg"] == said
    assert sum(f"'{c}'" in one.text for c in categories) == 1  # not the whole list
    two = client.post("/score", json={"concepts": [concept, _with(concept, category="skincar")]})
    assert f"category: {said}" in two.json()[1]["error"]
    target = client.post("/target", json={"concept": _with(concept, category="skincar")})
    assert target.status_code == 400 and said in target.text
    # case and spaces are a typo too, said as such: nothing is silently mended
    r = client.post("/score", json={"concepts": [_with(concept, category=" Skincare")]})
    assert r.status_code == 400 and "closest: 'skincare'" in r.text


def test_one_bad_concept_costs_only_itself_over_http(live_url: str, concept: dict) -> None:
    """1,000 concepts, 3 bad: 997 answers and 3 errors in their places, each naming its
    index, id and field; only the answers are logged, by their places in the request."""
    from scoring.prediction_log import PredictionLog

    marker = "zq-not-echoed-5521"
    concepts = [_with(concept, concept_id=f"c{i:04d}") for i in range(1000)]
    concepts[0] = _with(concepts[0], category="skincar")  # a closed vocabulary's typo
    concepts[500] = _with(concepts[500], price=marker, reach=1e308)  # two fields wrong
    concepts[999] = _with(concepts[999], concept_id=5, novelty=_DROP)  # its id is wrong too
    r = httpx.post(f"{live_url}/score", json={"concepts": concepts}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert marker not in r.text
    items = r.json()
    assert len(items) == 1000
    errors = {i: item for i, item in enumerate(items) if "error" in item}
    assert set(errors) == {0, 500, 999}
    answers = [item for i, item in enumerate(items) if i not in errors]
    ids = [f"c{i:04d}" for i in range(1000) if i not in errors]
    assert [a["concept_id"] for a in answers] == ids  # in their places
    assert all(0 < a["hit_probability"] < 1 for a in answers)
    fields = {i: [d["loc"] for d in e["detail"]] for i, e in errors.items()}
    assert fields == {
        0: [["concepts", 0, "category"]],
        500: [["concepts", 500, "price"], ["concepts", 500, "reach"]],
        999: [["concepts", 999, "concept_id"], ["concepts", 999, "novelty"]],
    }
    assert [errors[i]["index"] for i in (0, 500, 999)] == [0, 500, 999]
    assert [errors[i]["concept_id"] for i in (0, 500, 999)] == ["c0000", "c0500", None]
    assert errors[0]["error"].startswith("concepts.0 (concept_id 'c0000'): category: 'skincar'")
    assert errors[500]["error"].startswith("concepts.500 (concept_id 'c0500'): price: ")
    assert errors[999]["error"].startswith("concepts.999: concept_id: ")
    request_id = items[1]["request_id"]
    assert {item["request_id"] for item in items} == {request_id}

    log = PredictionLog()  # the session's, which the served model writes to
    try:
        logged = log.query(
            "SELECT item, concept_id FROM predictions WHERE request_id = ?", [request_id]
        )
    finally:
        log.close()
    assert sorted(logged) == [(i, f"c{i:04d}") for i in range(1000) if i not in errors]


def test_forecast_answers_its_valid_concepts_too(client, concept: dict) -> None:
    concepts = [concept, _with(concept, test_positive=10**6), concept]
    r = client.post("/forecast", json={"concepts": concepts})
    assert r.status_code == 200, r.text
    first, bad, last = r.json()
    assert first["p50"] == last["p50"] > 0
    assert bad["index"] == 1 and bad["detail"][0]["loc"] == ["concepts", 1, "test_positive"]
    assert "test_positive exceeds test_trials" in bad["error"]


def test_the_batch_limit_comes_before_any_validation(client) -> None:
    """More items than HIT_COMPASS_MAX_BATCH: a 413 naming the limit, even when every item is
    invalid (none of them gets as far as an error of its own)."""
    from core.settings import settings

    limit = settings().max_batch
    r = client.post("/score", json={"concepts": [0] * (limit + 1)})
    assert r.status_code == 413 and f"the limit is {limit}" in r.text, r.text[:300]
    r = client.post("/score", json={"concepts": [0, 0]})
    assert r.status_code == 200 and [e["index"] for e in r.json()] == [0, 1]


def test_openapi_says_an_item_is_an_answer_or_an_error(client) -> None:
    doc = client.get("/docs.json").json()
    schemas = doc["components"]["schemas"]
    for path, answer, item in (
        ("/score", "ScoredConcept", "ScoreItem"),
        ("/forecast", "GmvForecast", "ForecastItem"),
    ):
        post = doc["paths"][path]["post"]
        ok = post["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["items"] == {"$ref": f"#/components/schemas/{item}"}
        refs = [a["$ref"].rsplit("/", 1)[1] for a in schemas[item]["anyOf"]]
        assert refs == [answer, "ConceptError"]
        # the request still documents the concept itself
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["concepts"]["items"] == {"$ref": "#/components/schemas/Concept"}
    error = schemas["ConceptError"]
    assert set(error["required"]) == {"request_id", "index", "concept_id", "error", "detail"}
    assert all("description" in p for p in error["properties"].values())
    assert "example" in error


def test_tracing_spans_are_opt_in_and_the_access_log_stays_on() -> None:
    """OpenTelemetry spans cost throughput (compass bench serve measures how much) and BentoML
    samples none unless tracing is configured: off unless switched on."""
    from serving.service import HitCompass

    assert HitCompass.config["logging"]["access"]["enabled"] is True
    assert HitCompass.config["tracing"]["excluded_urls"] == [".*"]


def test_a_bad_switch_value_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import settings

    monkeypatch.setenv("HIT_COMPASS_TRACING", "maybe")
    with pytest.raises(ValueError, match="HIT_COMPASS_TRACING must be 1 or 0"):
        settings()
    monkeypatch.setenv("HIT_COMPASS_TRACING", "ON")
    assert settings().tracing is True
