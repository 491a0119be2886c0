"""The service in process: good answers, and 4xx naming the field for every bad input."""

from __future__ import annotations

import math

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


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_rejected(client, concept: dict, value: float) -> None:
    body = '{"concepts": [' + _json_with_raw(concept, "price", value) + "]}"
    r = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and "price" in r.text


def _json_with_raw(concept: dict, key: str, value: float) -> str:
    import json

    raw = {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    return json.dumps({**concept, key: "__RAW__"}).replace('"__RAW__"', raw)


def test_empty_list_rejected(client) -> None:
    r = client.post("/score", json={"concepts": []})
    assert 400 <= r.status_code < 500 and "concepts" in r.text


def test_not_json_rejected(client) -> None:
    r = client.post("/score", content=b"\x00garbage", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_error_does_not_echo_request_content(client, concept: dict) -> None:
    r = client.post("/score", json={"concepts": [_with(concept, brand_tier="SECRET-VALUE-42")]})
    assert r.status_code == 400 and "brand_tier" in r.text and "SECRET-VALUE-42" not in r.text


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
