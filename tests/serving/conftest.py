from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from procs import kill_tree, stop_tree

from features.schema import EXAMPLE_CONCEPT

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def client(champion: dict):
    from starlette.testclient import TestClient

    from serving.service import HitCompass

    with TestClient(HitCompass.to_asgi()) as c:
        yield c


@pytest.fixture()
def concept() -> dict:
    return dict(EXAMPLE_CONCEPT)


@pytest.fixture(scope="session")
def scorer(champion: dict):
    """The champion's scorer, in process (the same model the service loads)."""
    from serving.scorer import Scorer

    return Scorer(champion["train_result"].model, champion["version"])


@pytest.fixture(scope="session")
def test_concepts(champion: dict) -> list[dict]:
    """Out-of-time test launches as API concept dicts (dates as ISO strings)."""
    from features.schema import CONCEPT_FIELDS

    frame = champion["train_result"].test.head(300).copy()
    frame["launch_date"] = frame["launch_day"].dt.strftime("%Y-%m-%d")
    return [{k: _plain(r[k]) for k in CONCEPT_FIELDS} for r in frame.to_dict("records")]


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(proc.stdout.read().decode()[-3000:] if proc.stdout else "died")
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def start_bentoml(port: int) -> subprocess.Popen:
    """A real `bentoml serve` in its own process group (so the test can kill all of it)."""
    bentoml = Path(sys.executable).with_name("bentoml")
    return subprocess.Popen(
        [str(bentoml), "serve", "serving.service:HitCompass", "--port", str(port)],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture()
def real_server(champion: dict) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `bentoml serve` on a free port, ready; killed (whole group) at teardown."""
    port = free_port()
    proc = start_bentoml(port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        yield url, proc
    finally:
        kill_tree(proc)
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def live_url(champion: dict) -> Iterator[str]:
    """A real `bentoml serve` for the browser test (a second in-process ASGI app would
    register BentoML's Prometheus metrics twice)."""
    port = free_port()
    proc = start_bentoml(port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        yield url
    finally:
        stop_tree(proc)
