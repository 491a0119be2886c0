"""The serving benchmark's no-op services (benchmarks/serve.py) must answer, or the floor
they measure is a floor of 500s."""

from __future__ import annotations

import json

import pytest
from fresh_app import drop_bentoml_metrics


@pytest.mark.parametrize("name", ["NoopService", "NoopSameSettingsService"])
def test_noop_services_answer_the_score_body(name: str) -> None:
    from starlette.testclient import TestClient

    from benchmarks import serve as bench_serve
    from features.spec import load_spec
    from training import DEFAULT_SPEC

    service = getattr(bench_serve, name)
    drop_bentoml_metrics()  # each app registers BentoML's Prometheus metrics on first request
    try:
        with TestClient(service.to_asgi()) as client:
            resp = client.post("/score", json={"concepts": [load_spec(DEFAULT_SPEC).example]})
    finally:
        drop_bentoml_metrics()
    assert resp.status_code == 200, resp.text
    assert resp.json() == json.loads(bench_serve.NOOP_BODY)
