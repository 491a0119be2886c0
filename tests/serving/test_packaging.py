"""Packaging: `bentoml build` makes a Bento that carries the champion and serves offline.

The Bento is built from bentofile.yaml, exported to a single archive, imported into an empty
BentoML home (nothing else there: no source tree, no model store, no tracking database) and
served with `bentoml serve <tag>` from an empty directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from procs import stop_tree

REPO = Path(__file__).resolve().parents[2]


def bentoml_cli(*args: str, env: dict[str, str], cwd: Path = REPO) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bentoml", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"bentoml {' '.join(args)}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


def wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"bento not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
@pytest.mark.slow
def test_bento_carries_the_champion_and_serves_offline(
    champion: dict, concept: dict, tmp_path: Path
) -> None:
    env = dict(os.environ)
    tag = bentoml_cli("build", "-f", "bentofile.yaml", "-o", "tag", ".", env=env).strip()
    tag = re.sub(r"^__tag__:", "", tag.splitlines()[-1])
    assert tag.startswith("hit-compass:"), tag
    assert_ships_the_service_and_nothing_else(tag)
    archive = tmp_path / "hit-compass.bento"
    bentoml_cli("export", tag, str(archive), env=env)

    # a clean machine: only the archive, an empty home, an unreachable tracking server
    home = tmp_path / "clean-home"
    clean = dict(
        env,
        BENTOML_HOME=str(home),
        MLFLOW_TRACKING_URI="http://127.0.0.1:9",
        HIT_COMPASS_STATE=str(tmp_path / "no-state"),
    )
    clean.pop("PYTHONPATH", None)
    bentoml_cli("import", str(archive), env=clean, cwd=tmp_path)
    models = bentoml_cli("models", "list", "-o", "json", env=clean, cwd=tmp_path)
    assert "hit-compass" in models  # the model came inside the archive

    workdir = tmp_path / "empty"
    workdir.mkdir()
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", tag, "--port", str(port)],
        cwd=workdir,
        env=clean,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log)
        r = httpx.post(f"{url}/score", json={"concepts": [concept]}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()[0]["model_version"] == champion["version"]
        assert httpx.get(f"{url}/metrics", timeout=10).status_code == 200
        # bound to loopback unless --host says otherwise
        assert f"listening on http://127.0.0.1:{port}" in log.read_text()
    finally:
        stop_tree(proc, timeout=30)


def assert_ships_the_service_and_nothing_else(tag: str) -> None:
    """The Bento carries what the service imports, and no benchmark, training, CLI or Spark code."""
    import bentoml

    src = Path(bentoml.bentos.get(tag).path) / "src"
    shipped = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py"))
    assert "serving/service.py" in shipped and "scoring/scorer.py" in shipped, shipped
    extra = [p for p in shipped if p.startswith(("benchmarks/", "training/", "compass/"))]
    extra += [p for p in shipped if "bench" in p or p == "scoring/spark.py"]
    assert not extra, extra


def test_requirements_txt_matches_the_lock() -> None:
    """bentofile.yaml installs requirements.txt: it must be the lock's export, not a stale copy."""
    candidates = [[sys.executable, "-m", "uv"], ["python3", "-m", "uv"], ["uv"]]
    uv = next((c for c in candidates if _runs([*c, "--version"])), None)
    if uv is None:
        pytest.skip("uv is not installed")
    done = subprocess.run(
        [
            *uv,
            "export",
            "--frozen",
            "--no-default-groups",  # no dev tools, no pyspark: the service needs neither
            "--no-hashes",
            "--no-emit-project",
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    def pins(text: str) -> list[str]:
        return sorted(
            line for line in text.splitlines() if line and not line.startswith(("#", " "))
        )

    current = (REPO / "requirements.txt").read_text()
    assert pins(done.stdout) == pins(current), "run `make requirements.txt`"
    assert not [p for p in pins(current) if p.startswith(("pyspark", "py4j"))]


def _runs(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False
