"""GET /monitor: the served model's latest `compass monitor` summary, behind the API key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

KEY = "monitor-test-key"


@pytest.fixture()
def summary_file(champion: dict) -> Iterator[Path]:
    """The served model's summary file, absent for the test (another test's is put back)."""
    from core.settings import monitor_summary_path

    path = monitor_summary_path(champion["model_name"])
    kept = path.read_bytes() if path.exists() else None
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)
    if kept is not None:
        path.write_bytes(kept)


def test_404_until_the_monitor_ran_then_its_summary(client, summary_file: Path) -> None:
    r = client.get("/monitor", follow_redirects=False)
    assert r.status_code == 404, r.text
    assert "compass monitor --model hit-compass" in r.json()["error"]
    summary = {"model_name": "hit-compass", "model_version": "7", "alarms": ["price: PSI 0.4"]}
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(summary))
    r = client.get("/monitor", follow_redirects=False)
    assert r.status_code == 200 and r.json() == summary
    assert r.headers["content-type"] == "application/json"
    # the mount at the root takes /monitor only: the rest is routed as before
    assert client.get("/monitor/x").status_code == 404
    assert client.get("/readyz").status_code == 200 and client.get("/").status_code == 200
    assert client.post("/score", json={}).status_code == 400


def test_the_api_key_guards_it(summary_file: Path) -> None:
    from fresh_app import fresh_service

    with fresh_service(HIT_COMPASS_API_KEY=KEY) as client:
        assert client.get("/monitor").status_code == 401
        r = client.get("/monitor", headers={"X-API-Key": KEY})
        assert r.status_code == 404 and "error" in r.json()
