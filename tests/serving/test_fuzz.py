"""Schemathesis against the service's own OpenAPI schema (/docs.json), in process.

Positive and negative cases for every operation; each answer must be below 500, and every 4xx
must say which field (or which limit) is wrong without echoing what was sent. A closing test
checks that the run really generated at least 1,000 cases and reached every operation.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import TypeAdapter
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from features.spec import DatasetSpec

MIN_CASES = 1000
EXAMPLES = 60  # per (operation, mode): 9 POST operations x positive/negative -> 1,080 cases
POST_PATHS = [
    "/score",
    "/target",
    "/whatif",
    "/wordings",  # the simulated spec has no text: a 400 naming the field, always
    "/forecast",
    "/funnel",
    "/compare",
    "/outcomes",
    "/admin/reload",
]
# In process, BentoML's /metrics needs the Prometheus multiprocess set-up of a real server
# (test_packaging reads it from one); like the other probes it takes no input.
GET_PATHS = ["/livez", "/readyz", "/healthz"]

WHOLE_BODY_ERRORS = ("json_invalid", "json_type", "model_type", "model_attributes_type")
# an error without a field names the limit it hit (413: body size, batch size)
LIMIT_WORDS = {"limit"}
# what a model can answer is its spec's: "declares no segment_column" names the spec's key
SPEC_KEYS = set(DatasetSpec.model_fields)
ECHO_MIN_CHARS = 8  # shorter sent strings may be in an answer by chance ("price", "should")

seen: Counter[str] = Counter()
answered: Counter[str] = Counter()  # 200s whose body was validated against its declared type
error_items: Counter[str] = Counter()  # 200s holding a concept's error in its place


def answer_types() -> dict[str, TypeAdapter]:
    """What each scoring endpoint (and /outcomes) declares it answers (the service sends ready
    JSON bytes, so this test is what holds them to the declared types)."""
    from serving.responses import (
        CompareResult,
        ForecastItem,
        FunnelItem,
        OutcomeReceipt,
        ScoreItem,
        TargetResult,
        WhatIfResult,
    )

    return {
        "/score": TypeAdapter(list[ScoreItem]),
        "/target": TypeAdapter(TargetResult),
        "/whatif": TypeAdapter(WhatIfResult),
        "/forecast": TypeAdapter(list[ForecastItem]),
        "/funnel": TypeAdapter(list[FunnelItem]),
        "/compare": TypeAdapter(CompareResult),
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


def request_words(document: dict) -> tuple[set[str], set[str]]:
    """(every property name, every enum value) the operations' request bodies declare, $refs
    followed: the field names an error may name, and the values it may list as allowed."""
    names: set[str] = set()
    values: set[str] = set()
    pending = [op["requestBody"] for item in document["paths"].values() for op in item.values()
               if isinstance(op, dict) and "requestBody" in op]  # fmt: skip
    seen_refs: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen_refs:
                seen_refs.add(ref)
                target = document
                for part in ref.removeprefix("#/").split("/"):
                    target = target[part]
                pending.append(target)
            names |= set(node.get("properties", {}))
            values |= {str(v) for v in node.get("enum", [])}
            pending += [v for k, v in node.items() if k not in ("$ref", "enum", "example")]
    return names, values


def explains_itself(body: str, fields: set[str]) -> str | None:
    """None if a 4xx body names what is wrong; otherwise why not."""
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON"
    if isinstance(data, list) and len(data) == 1:  # BentoML wraps its own 4xx errors in a list
        data = data[0]
    if not isinstance(data, dict) or not data.get("error"):
        return "no 'error' message"
    detail = data.get("detail")
    if not detail:  # then the message itself names the field (or the limit) that is wrong
        words = set(re.findall(r"\w+", str(data["error"])))
        if not words & (fields | LIMIT_WORDS | SPEC_KEYS):
            return "an error naming no field"
    for error in detail or []:
        # an empty loc is the body itself (not JSON, not an object): the body is the "field"
        if not field_names(error) and error.get("type") not in WHOLE_BODY_ERRORS:
            return f"a validation error without a field: {error}"
    return None


# The one value an answer names back: a closed vocabulary's, cut short, so that the user sees
# which value was refused beside the closest allowed ones (issue 19); nothing else is echoed.
VOCABULARY_VALUE = re.compile(r"""(['"]).*?\1 is not one of the \d+ allowed values""")


# pydantic's documentation links in BentoML's 400s ("https://errors.pydantic.dev/...")
ERROR_URL = re.compile(r'"url":\s*"[^"]*"')


def unechoed(text: str) -> str:
    """An answer's text without the refused vocabulary values it names and the documentation
    links it carries (a sent "pydant" is not echoed by "pydantic.dev")."""
    return ERROR_URL.sub("", VOCABULARY_VALUE.sub("", text))


def fuzz_live(url: str, paths: tuple[str, ...], mode, examples: int, check_answers: bool) -> None:
    """A live server's POST operations fuzzed from its own document (another spec's service):
    no 5xx; a 4xx explains itself; with ``check_answers``, a 200 is what the document says."""
    document = httpx.get(f"{url}/docs.json", timeout=10).json()
    # BentoML labels the document OpenAPI 3.0.2, its schemas are pydantic 2's (3.1)
    schema = schemathesis.openapi.from_dict({**document, "openapi": "3.1.0"})
    fields, _ = request_words(document)
    for path in paths:

        @given(case=schema[path]["POST"].as_strategy(mode))
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking against a live server
        )
        def run(case) -> None:
            response = case.call(base_url=url, timeout=60)
            status = response.status_code
            assert status < 500, f"{case.path} -> {status}: {response.text[:500]}"
            if status >= 400:
                assert explains_itself(response.text, fields) is None, response.text
            elif check_answers:  # the answers, error items too, as documented
                case.validate_response(response, checks=[response_schema_conformance])

        run()


def sent_strings(value: object) -> set[str]:
    """The string values (not keys) of a request body at least ECHO_MIN_CHARS long."""
    if isinstance(value, str):
        return {value} if len(value) >= ECHO_MIN_CHARS else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*map(sent_strings, value)) if value else set()
    return set()


def check(case, types: dict[str, TypeAdapter], words: tuple[set[str], set[str]]) -> None:
    response = case.call()
    seen[f"{case.method} {case.path}"] += 1
    status = response.status_code
    assert status < 500, f"{case.method} {case.path} -> {status}: {response.text[:500]}"
    if status == 200 and case.path in types:
        # the bytes are exactly what the declared type serialises to: same fields, order,
        # numbers (floats stay floats) and no NaN
        adapter = types[case.path]
        assert adapter.dump_json(adapter.validate_json(response.content)) == response.content
        case.validate_response(response, checks=[response_schema_conformance])  # the document's
        answered[case.path] += 1
        if b'"error":' in response.content:
            error_items[case.path] += 1
    if 400 <= status < 500:
        fields, allowed = words
        problem = explains_itself(response.text, fields)
        assert problem is None, f"{case.method} {case.path} -> {status} {problem}: {response.text}"
        # a value the schema allows may be listed back ("should be 'a', 'b'"): not an echo
        echoed = [v for v in sent_strings(case.body) - allowed if v in unechoed(response.text)]
        assert not echoed, f"{case.method} {case.path} -> {status} echoes {echoed}: {response.text}"


def fuzz(strategy, examples: int, words: tuple[set[str], set[str]]) -> None:
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
        check(case, types, words)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", POST_PATHS)
def test_post_operations(api_schema, path: str, mode: GenerationMode) -> None:
    fuzz(api_schema[path]["POST"].as_strategy(mode), EXAMPLES, request_words(api_schema.raw_schema))


@pytest.mark.parametrize("path", GET_PATHS)
def test_probes(api_schema, path: str) -> None:
    fuzz(api_schema[path]["GET"].as_strategy(), 5, request_words(api_schema.raw_schema))


MARKER = "Zq7echomarker"
FREE = ("concept_id", "brand")


def planted(concept: dict) -> list[tuple[str, dict]]:
    """Requests that must be refused, a marker string in each place the service reads."""
    every = {k: f"{MARKER}-{k}" for k in concept}  # every field a marker, numbers too
    outcome = {"concept_id": MARKER, "launch_date": f"{MARKER}-date", "hit": f"{MARKER}-hit"}
    return [
        ("/score", {"concepts": [every]}),
        # each field alone (but the free-text id and brand, where any string is valid)
        *(("/score", {"concepts": [{**concept, k: MARKER}]}) for k in concept if k not in FREE),
        ("/target", {"concept": every}),
        ("/whatif", {"concept": concept, "lever": MARKER}),
        ("/whatif", {"concept": concept, "lever": "launch_date", "grid": [MARKER]}),
        ("/whatif", {"concept": concept, "lever": "price", "grid": [MARKER]}),
        ("/forecast", {"concepts": [every]}),
        ("/outcomes", {"outcomes": [outcome]}),
        ("/outcomes", {"outcomes": [{**outcome, "launch_date": "2026-01-01", "hit": 1}, MARKER]}),
        ("/admin/reload", {"tag": f"hit-compass:{MARKER}"}),
    ]


def test_refusals_never_echo_what_was_sent(api_schema, concept: dict) -> None:
    """Marker strings planted in every field, lever and grid point: each request is a 4xx
    that names what is wrong, and the marker is nowhere in the answer."""
    fields, _ = request_words(api_schema.raw_schema)
    for path, body in planted(concept):
        response = api_schema[path]["POST"].Case(body=body, media_type="application/json").call()
        where = f"{path} {json.dumps(body)[:200]} -> {response.status_code}: {response.text}"
        assert 400 <= response.status_code < 500, where
        assert explains_itself(response.text, fields) is None, where
        assert MARKER not in unechoed(response.text), where


def test_documented_examples_answer_as_declared(api_schema) -> None:
    """Each scoring operation's documented example, checked as a fuzzed case is: /compare's
    generated lists rarely hold two valid concepts with distinct ids (some runs none), so its
    answer type is held to the document here, and its error item too: the example with one
    more concept whose price is not a number."""
    words = request_words(api_schema.raw_schema)
    properties = api_schema.raw_schema["paths"]["/compare"]["post"]["requestBody"]["content"]
    example = properties["application/json"]["schema"]["properties"]["concepts"]["examples"][0]
    bad = {**example[0], "concept_id": "not-a-price", "price": "cheap"}
    for concepts in (example, [*example, bad]):
        case = api_schema["/compare"]["POST"].Case(
            body={"concepts": concepts}, media_type="application/json"
        )
        check(case, answer_types(), words)
    assert answered["/compare"] >= 2 and error_items["/compare"] >= 1


def test_fuzzing_covered_every_operation(api_schema) -> None:
    operations = {
        f"{op.method.upper()} {op.path}"
        for op in (result.ok() for result in api_schema.get_all_operations())
    }
    assert operations - set(seen) == {"GET /metrics"}, f"never called: {operations - set(seen)}"
    assert sum(seen.values()) >= MIN_CASES, dict(seen)
    assert set(answered) == set(answer_types()), f"no valid answer checked: {dict(answered)}"
    assert set(error_items) == {"/score", "/forecast", "/funnel", "/compare"}, (
        f"no error item: {dict(error_items)}"
    )
