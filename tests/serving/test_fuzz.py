"""Schemathesis against the service's own OpenAPI schema (/docs.json), in process.

Positive and negative cases for every operation; each answer must be below 500, and every 4xx
must say which field (or which limit) is wrong without echoing what was sent. A closing test
checks that the run really generated at least 1,000 cases and reached every operation.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import TypeAdapter
from schemathesis import GenerationMode

MIN_CASES = 1000
EXAMPLES = 110  # per (operation, mode): 7 POST operations x positive/negative -> 1,540 cases
POST_PATHS = [
    "/score",
    "/target",
    "/whatif",
    "/wordings",  # the simulated spec has no text: a 400 naming the field, always
    "/forecast",
    "/outcomes",
    "/admin/reload",
]
# In process, BentoML's /metrics needs the Prometheus multiprocess set-up of a real server
# (test_packaging reads it from one); like the other probes it takes no input.
GET_PATHS = ["/livez", "/readyz", "/healthz"]

WHOLE_BODY_ERRORS = ("json_invalid", "json_type", "model_type", "model_attributes_type")

seen: Counter[str] = Counter()
answered: Counter[str] = Counter()  # 200s whose body was validated against its declared type


def answer_types() -> dict[str, TypeAdapter]:
    """What each scoring endpoint (and /outcomes) declares it answers (the service sends ready
    JSON bytes, so this test is what holds them to the declared types)."""
    from serving.responses import (
        GmvForecast,
        OutcomeReceipt,
        ScoredConcept,
        TargetResult,
        WhatIfResult,
    )

    return {
        "/score": TypeAdapter(list[ScoredConcept]),
        "/target": TypeAdapter(TargetResult),
        "/whatif": TypeAdapter(WhatIfResult),
        "/forecast": TypeAdapter(list[GmvForecast]),
        "/outcomes": TypeAdapter(OutcomeReceipt),
    }


@pytest.fixture(scope="module")
def api_schema(champion: dict):
    from fresh_app import drop_bentoml_metrics
    from schemathesis.python import asgi

    from serving.service import HitCompass

    drop_bentoml_metrics()
    app = HitCompass.to_asgi()
    document = schemathesis.openapi.from_asgi("/docs.json", app).raw_schema
    # BentoML labels the document OpenAPI 3.0.2, but its schemas come from pydantic 2 and are
    # JSON Schema 2020-12 (numeric exclusiveMinimum...), i.e. OpenAPI 3.1: read them as such.
    loaded = schemathesis.openapi.from_dict({**document, "openapi": "3.1.0"})
    loaded.app = app
    loaded.location = "/docs.json"
    yield loaded
    asgi.shutdown_lifespans()
    drop_bentoml_metrics()


def field_names(error: dict) -> list[str]:
    return [str(part) for part in error.get("loc", []) if isinstance(part, str)]


def explains_itself(body: str) -> str | None:
    """None if a 4xx body names what is wrong; otherwise why not."""
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON"
    if isinstance(data, list) and len(data) == 1:  # BentoML wraps its own 4xx errors in a list
        data = data[0]
    if not isinstance(data, dict) or not data.get("error"):
        return "no 'error' message"
    for error in data.get("detail") or []:
        # an empty loc is the body itself (not JSON, not an object): the body is the "field"
        if not field_names(error) and error.get("type") not in WHOLE_BODY_ERRORS:
            return f"a validation error without a field: {error}"
    return None


def check(case, types: dict[str, TypeAdapter]) -> None:
    response = case.call()
    seen[f"{case.method} {case.path}"] += 1
    status = response.status_code
    assert status < 500, f"{case.method} {case.path} -> {status}: {response.text[:500]}"
    if status == 200 and case.path in types:
        # the bytes are exactly what the declared type serialises to: same fields, order,
        # numbers (floats stay floats) and no NaN
        adapter = types[case.path]
        assert adapter.dump_json(adapter.validate_json(response.content)) == response.content
        answered[case.path] += 1
    if 400 <= status < 500:
        problem = explains_itself(response.text)
        assert problem is None, f"{case.method} {case.path} -> {status} {problem}: {response.text}"


def fuzz(strategy, examples: int) -> None:
    types = answer_types()

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
    )
    def run(case) -> None:
        check(case, types)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", POST_PATHS)
def test_post_operations(api_schema, path: str, mode: GenerationMode) -> None:
    fuzz(api_schema[path]["POST"].as_strategy(mode), EXAMPLES)


@pytest.mark.parametrize("path", GET_PATHS)
def test_probes(api_schema, path: str) -> None:
    fuzz(api_schema[path]["GET"].as_strategy(), 5)


def test_fuzzing_covered_every_operation(api_schema) -> None:
    operations = {
        f"{op.method.upper()} {op.path}"
        for op in (result.ok() for result in api_schema.get_all_operations())
    }
    assert operations - set(seen) == {"GET /metrics"}, f"never called: {operations - set(seen)}"
    assert sum(seen.values()) >= MIN_CASES, dict(seen)
    assert set(answered) == set(answer_types()), f"no valid answer checked: {dict(answered)}"
