"""Opt-in soak (``pytest -m soak``, ~90 s): 60 s of 32 connections on loopback against a real
`bentoml serve`; zero errors and resident memory growing less than 10 %."""

from __future__ import annotations

import shutil

import pytest


@pytest.mark.soak
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)")
def test_soak_60s_32_connections(champion: dict) -> None:
    from benchmarks.serve import soak

    result = soak(duration_s=60.0, connections=32)
    print(result)
    assert result["errors"] == 0, result
    assert result["requests"] > 0
    assert result["rss_growth_pct"] < 10.0, result
