"""One end-to-end test against a real `bentoml serve` subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from procs import stop_tree

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_real_bentoml_serve(champion: dict, concept: dict, tmp_path: Path) -> None:
    port = free_port()
    bentoml = Path(sys.executable).with_name("bentoml")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        # own session: the whole process tree (arbiter + worker) is stopped together
        proc = subprocess.Popen(
            [str(bentoml), "serve", "serving.service:HitCompass", "--port", str(port)],
            cwd=REPO,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
        r = httpx.post(f"{url}/score", json={"concepts": [concept]}, timeout=10)
        assert r.status_code == 200
        assert 0 < r.json()[0]["hit_probability"] < 1
        bad = httpx.post(f"{url}/score", json={"concepts": [{**concept, "reach": -1}]}, timeout=10)
        assert bad.status_code == 400 and "reach" in bad.text
    finally:
        stop_tree(proc, timeout=30)
