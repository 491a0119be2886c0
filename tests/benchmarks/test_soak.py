"""Opt-in soak (``make soak``, i.e. ``pytest -m soak tests/benchmarks/test_soak.py``, ~90 s):
60 s of 32 connections on loopback against a real `bentoml serve`; zero errors and resident
memory growing less than 10 %."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")  # session: set up before the champion, which trains
def wrk() -> str:
    """The load generator. The soak runs only when asked for by name, so a missing wrk is a
    failure, not a skip that would look like a pass."""
    path = shutil.which("wrk")
    if path is None:
        pytest.fail("the soak needs wrk: `make soak` installs it (apt-get install -y wrk)")
    return path


@pytest.mark.soak
def test_soak_60s_32_connections(wrk: str, champion: dict) -> None:
    from benchmarks.serve import soak

    result = soak(duration_s=60.0, connections=32)
    print(result)
    assert result["errors"] == 0, result
    assert result["requests"] > 0
    assert result["rss_growth_pct"] < 10.0, result
