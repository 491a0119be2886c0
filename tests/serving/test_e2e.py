"""One end-to-end test against a real `bentoml serve` subprocess on a free port (the session's
``live_url``, which the page tests drive too: one server start for both)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.e2e
def test_real_bentoml_serve(live_url: str, concept: dict) -> None:
    r = httpx.post(f"{live_url}/score", json={"concepts": [concept]}, timeout=10)
    assert r.status_code == 200
    assert 0 < r.json()[0]["hit_probability"] < 1
    bad = httpx.post(f"{live_url}/score", json={"concepts": [{**concept, "reach": -1}]}, timeout=10)
    assert bad.status_code == 400 and "reach" in bad.text
