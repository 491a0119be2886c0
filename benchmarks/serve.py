"""``compass bench serve``: the serving benchmark, and the soak.

Starts, each on a free 127.0.0.1 port:

* the Hit Compass service (``bentoml serve serving.service:HitCompass``) with the champion, on
  one worker (``score1_*``), then on two (``score1_rps_c16_workers2``, ``HIT_COMPASS_WORKERS``);
* :class:`NoopService`, a BentoML service defined here whose endpoint takes the same body and
  returns a constant: the floor of BentoML's own HTTP path on this machine; and
  :class:`NoopSameSettingsService`, the same on Hit Compass's BentoML settings (like for like);
* ``mlflow models serve --env-manager local`` on ``models:/hit-compass@champion``: the peer.

and drives each with the same load generator, ``wrk`` (Debian package ``wrk``; a Lua script
sends the POST body and prints the numbers as JSON). Every number in the output is measured in
that run; the targets are reported next to them, not asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from benchmarks.timing import median_us
from serving.settings import bentoml_settings

# Hit Compass's own layers are imported inside the functions that use them: `bentoml serve`
# imports this module for the no-op services, which should load nothing but BentoML.

REPO = Path(__file__).resolve().parents[1]

# Targets of issue 5: (metric, comparison, bound). Ratios are computed from the same run.
TARGETS = {
    "score1_p50_ms": ("<=", 3.0),
    "score1_p99_ms": ("<=", 15.0),
    "batch1000_ms": ("<=", 150.0),
    "in_process_score1_us": ("<=", 250.0),
    "score1_over_mlflow_rps": (">=", 5.0),
    "score1_over_noop_rps": (">=", 0.6),
}

WRK_LUA = """
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("WRK_API_KEY")
if key and #key > 0 then wrk.headers["X-API-Key"] = key end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d," ..
    "\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d," ..
    "\\"max_us\\":%d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# Gives back the OpenTelemetry spans BentoML builds for every request (off by default)
TRACING_ON = {"HIT_COMPASS_TRACING": "1"}
ONE_WORKER = {"HIT_COMPASS_WORKERS": "1"}  # the headline numbers, whatever the caller's setting
TWO_WORKERS = {"HIT_COMPASS_WORKERS": "2"}


# ---- the floor: a BentoML service that does nothing ------------------------------------------
NOOP_BODY = json.dumps([{"concept_id": "noop", "hit_probability": 0.5, "model_version": "0"}])


def _constant() -> Any:
    """The no-ops' answer: ready bytes, no output model (BentoML's cheapest way to answer)."""
    from starlette.responses import Response

    return Response(NOOP_BODY, media_type="application/json")


@bentoml.service(http={"host": "127.0.0.1", "port": 3000}, workers=1)
class NoopService:
    """The floor of BentoML's own HTTP path: a minimal service on BentoML's stock settings. Same
    route and body as ``/score`` (parsed into the declared type, as BentoML does for every API);
    an async method on the event loop answers a constant."""

    @bentoml.api(route="/score")
    async def score(self, concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _constant()


@bentoml.service(**bentoml_settings())
class NoopSameSettingsService:
    """The same no-op on Hit Compass's BentoML settings (request timeout without BentoML's
    timer leak, no OpenTelemetry spans): the floor like for like, reported next to it."""

    @bentoml.api(route="/score")
    async def score(self, concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _constant()


# ---- processes --------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the servers: the venv's bin first (mlflow runs ``uvicorn`` by name)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    env.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
    env.pop("HIT_COMPASS_API_KEY", None)
    env.update(extra or {})
    return env


def served_env(tag: str, work: Path) -> dict[str, str]:
    """The servers' environment: exactly this model, the real registry (for MLflow's server),
    and a throw-away state folder so benchmark traffic never lands in the prediction log."""
    from training import registry

    return bench_env(
        {
            "HIT_COMPASS_MODEL": tag,
            "MLFLOW_TRACKING_URI": registry.tracking_uri(),
            "HIT_COMPASS_STATE": str(work / "state"),
        }
    )


def start(name: str, cmd: list[str], port: int, env: dict[str, str], logdir: Path) -> Server:
    log = logdir / f"{name}.log"
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group; stop() also reaps the worker
    )
    return Server(name, proc, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server, path: str, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode} before it was ready:\n"
                + server.log.read_text(errors="replace")[-3000:]
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} not ready after {timeout_s:.0f} s; log: {server.log}")


def stop(server: Server) -> None:
    """Stop the server and everything it started (BentoML's worker runs in its own session,
    so the process group alone would leave it running)."""
    import psutil

    if server.proc.poll() is not None:
        return
    children = psutil.Process(server.proc.pid).children(recursive=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@contextlib.contextmanager
def running(
    name: str, cmd: list[str], port: int, env: dict[str, str], logdir: Path, ready: str
) -> Iterator[Server]:
    server = start(name, cmd, port, env, logdir)
    try:
        wait_ready(server, ready)
        yield server
    finally:
        stop(server)


def running_hit_compass(
    env: dict[str, str], logdir: Path
) -> contextlib.AbstractContextManager[Server]:
    """This service on a free loopback port, ready."""
    port = free_port()
    return running(
        "hit-compass", service_cmd("serving.service:HitCompass", port), port, env, logdir, "/readyz"
    )


def running_noop(
    cls: str, env: dict[str, str], logdir: Path
) -> contextlib.AbstractContextManager[Server]:
    """One of this module's no-op services on a free loopback port, ready."""
    port = free_port()
    target = f"benchmarks.serve:{cls}"
    return running(cls, service_cmd(target, port), port, env, logdir, "/readyz")


def service_cmd(target: str, port: int) -> list[str]:
    # --host explicitly: the bind address never depends on a config file or env default
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def mlflow_cmd(port: int) -> list[str]:
    from training import registry

    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{registry.MODEL_NAME}@{registry.CHAMPION}",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]


# ---- load generation --------------------------------------------------------------------------
def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError(
            "wrk is not installed: `apt-get install -y wrk` (Debian) — the benchmark drives every "
            "server with it"
        )
    return path


def wrk(
    url: str,
    body: bytes,
    connections: int,
    duration_s: float,
    workdir: Path,
    api_key: str = "",
) -> dict[str, float]:
    """One wrk run (1 thread: the other core belongs to the server); rps, latency, errors."""
    script = workdir / "post.lua"
    script.write_text(WRK_LUA)
    body_file = workdir / f"body-{abs(hash(body))}.json"
    body_file.write_bytes(body)
    env = dict(os.environ, WRK_BODY_FILE=str(body_file), WRK_API_KEY=api_key)
    cmd = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line[len("WRKJSON ") :])
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "errors": errors,
        "non_2xx": raw["status"],
    }


def answered(
    server: Server, url: str, body: bytes, connections: int, duration_s: float, workdir: Path
) -> dict[str, float]:
    """:func:`wrk`, refusing a run in which any request failed: a benchmark of error answers
    measures nothing."""
    result = wrk(url, body, connections, duration_s, workdir)
    if result["errors"]:
        raise RuntimeError(
            f"{server.name}: {result['errors']} of {result['requests']} requests failed "
            f"({result['non_2xx']} non-2xx); its log ends:\n"
            + server.log.read_text(errors="replace")[-3000:]
        )
    return result


def median_post_ms(url: str, body: bytes, repeats: int, warmup: int = 2) -> float:
    """Median wall time of one POST (a fresh keep-alive client, sequential)."""
    import httpx

    times = []
    with httpx.Client(timeout=60, headers={"Content-Type": "application/json"}) as client:
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            resp = client.post(url, content=body)
            elapsed = (time.perf_counter() - t0) * 1e3
            resp.raise_for_status()
            if i >= warmup:
                times.append(elapsed)
    return statistics.median(times)


# ---- payloads ---------------------------------------------------------------------------------
def random_concepts(n: int, seed: int = 5) -> list[dict[str, Any]]:
    """Varied, valid concepts (every categorical level, wide numeric ranges)."""
    from features.domain import BRAND_TIERS, CATEGORIES, SEGMENTS
    from features.spec import load_spec
    from training import DEFAULT_SPEC

    example = load_spec(DEFAULT_SPEC).example or {}

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        reach = int(rng.integers(1_000, 500_000))
        sent = int(rng.integers(0, 500))
        trials = int(rng.integers(0, sent + 1))
        positive = int(rng.integers(0, trials + 1))
        day = np.datetime64("2026-01-01") + int(rng.integers(0, 365))
        c = dict(example)
        c.update(
            concept_id=f"bench-{i}",
            launch_date=str(day),
            category=str(rng.choice(list(CATEGORIES))),
            target_segment=str(rng.choice(list(SEGMENTS))),
            brand_tier=str(rng.choice(list(BRAND_TIERS))),
            brand=f"brand_{int(rng.integers(0, 2000)):04d}",
            price=round(float(rng.uniform(9, 2000)), 2),
            novelty=round(float(rng.uniform(0, 1)), 3),
            marketing_budget=round(float(rng.uniform(1e4, 5e6)), 0),
            seeding_posts=int(rng.integers(0, 200)),
            reach=reach,
            interested=int(rng.integers(0, reach // 5 + 1)),
            test_samples_sent=sent,
            test_trials=trials,
            test_positive=positive,
            test_repurchase=int(rng.integers(0, positive + 1)),
        )
        out.append(c)
    return out


def score_body(concepts: list[dict[str, Any]]) -> bytes:
    return json.dumps({"concepts": concepts}).encode()


def mlflow_body(concept: dict[str, Any], input_columns: list[str]) -> bytes:
    return json.dumps({"dataframe_records": [{k: concept[k] for k in input_columns}]}).encode()


# ---- in process -------------------------------------------------------------------------------
def in_process_us(scorer: Any, concept: dict[str, Any], repeats: int = 3000) -> tuple[float, str]:
    """Median µs of ``Scorer.score([concept])`` (what /score runs per request), and what it
    covered (drivers are part of the answer when the scorer returns them)."""
    out = scorer.score([concept])
    parts = "features + predict" + (" + drivers" if "drivers" in out[0] else " (no drivers)")
    for _ in range(200):
        scorer.score([concept])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        scorer.score([concept])
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3, f"Scorer.score([concept]): {parts}"


def in_process_floor_us(scorer: Any, concept: dict[str, Any], repeats: int = 3000) -> float:
    """Median µs of the model's own arithmetic for one concept, the floor under
    :func:`in_process_us` measured in the same run: TreeSHAP (LightGBM ``pred_contrib``) on its
    prepared row plus the pre-test booster on the test-masked twin, nothing else."""
    model = scorer.model
    both = model.matrix(scorer.columns(scorer.with_untested([concept], [0])))
    row, masked = both[:1], both[1:]

    def arithmetic() -> None:
        model.explain(row)
        if model.has_pre_test:
            model.pre_test_probability(masked)

    return median_us(arithmetic, repeats, warmup=200)


# ---- /compare beside /score (issue 21) ----------------------------------------------------------
def compare_vs_score(url: str, concepts: list[dict[str, Any]], repeats: int = 50) -> dict[str, Any]:
    """Median ms of one POST of 10 concepts to /compare (intervals, each against the top, the
    fields that differ) and of the same 10 to /score (drivers included), on one server."""
    ten = concepts[:10]
    body = json.dumps({"concepts": ten}).encode()
    return {
        "score10_ms": median_post_ms(url + "/score", body, repeats),
        "compare10_ms": median_post_ms(url + "/compare", body, repeats),
    }


def in_process_compare_us(scorer: Any, concepts: list[dict[str, Any]], repeats: int = 500) -> dict:
    """Median µs in process of ``scoring.compare.compare`` on 10 concepts and of
    ``Scorer.score`` on the same 10."""
    from scoring.compare import compare

    ten = concepts[:10]
    return {
        "in_process_score10_us": median_us(lambda: scorer.score(ten), repeats),
        "in_process_compare10_us": median_us(lambda: compare(scorer, ten), repeats),
    }


def cycled_us(work: Any, items: list[Any], repeats: int = 3000) -> float:
    """Median µs of ``work(item)``, cycling through ``items`` (distinct texts: no cache of the
    last texts' n-grams helps, as none helps a product team sending new wordings)."""
    for item in items[:200]:
        work(item)
    times = []
    for k in range(repeats):
        item = items[k % len(items)]
        t0 = time.perf_counter_ns()
        work(item)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def text_concepts(scorer: Any, n: int = 1000) -> list[dict[str, Any]]:
    """The latest ``n`` launches of the served spec's own history as concepts (their own,
    distinct words), validated as `compass score` validates a file's rows."""
    from scoring.batch import validate
    from training import SPECS
    from training.dataset import load_launches

    frame = load_launches(scorer.spec, spec_dir=SPECS).frame.tail(n)  # its source beside the specs
    _, concepts, errors = validate(
        frame[[c for c in scorer.schema.names if c in frame]], scorer.schema
    )
    assert concepts, errors
    return concepts


def text_concept(
    spec_name: str = "product_hunt.yaml", repeats: int = 3000, say: Any = None
) -> dict[str, Any]:
    """The in-process cost of scoring a concept with words (the spec's champion, trained first
    if there is none), against the floor of its own arithmetic (TreeSHAP), beside the simulated
    default's concept measured in the same run: the whole ``Scorer.score`` (features with the
    text scores, predict, drivers, phrases), and the text's own parts (the text scores of
    every text field; their phrases)."""
    from scoring import store
    from scoring.scorer import Scorer
    from training import SPECS, registry
    from training.pipeline import ensure_champion

    name, version = ensure_champion(SPECS / spec_name, say=say or (lambda _: None))
    model, version, tag = store.load(registry.export_version(version, name))
    scorer = Scorer(model, version)
    concepts = text_concepts(scorer)
    texts = model.features.text_models
    base = Scorer(*store.load(champion_tag())[:2])
    one = random_concepts(1)[0]
    out: dict[str, Any] = {"spec": model.spec.name, "model_tag": tag, "concepts": len(concepts)}
    out["in_process_score1_us"] = cycled_us(lambda c: scorer.score([c]), concepts, repeats)
    out["in_process_floor_us"] = min(
        in_process_floor_us(scorer, c, repeats // 10) for c in concepts[:10]
    )
    out["in_process_over_floor"] = out["in_process_score1_us"] / out["in_process_floor_us"]
    out["text_scores_us"] = cycled_us(
        lambda c: [m.scores([c.get(col)]) for col, m in texts.items()], concepts, repeats
    )
    out["phrases_us"] = cycled_us(
        lambda c: [m.phrases(c.get(col)) for col, m in texts.items()], concepts, repeats
    )
    out["simulated_in_process_score1_us"] = in_process_us(base, one, repeats)[0]
    out["simulated_in_process_floor_us"] = in_process_floor_us(base, one, repeats)
    out["text_over_simulated"] = out["in_process_score1_us"] / out["simulated_in_process_score1_us"]
    out["load_avg_1m_at_start"] = os.getloadavg()[0]
    return out


# ---- environment and targets ------------------------------------------------------------------
def environment() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(
        [wrk_path(), "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "load_avg_1m_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": wrk_version[0] if wrk_version else "?",
        **{
            pkg: metadata.version(pkg)
            for pkg in ("bentoml", "lightgbm", "mlflow", "numpy", "pydantic", "uvicorn")
        },
    }


def judge(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = dict(result)
    values["score1_over_mlflow_rps"] = result["score1_rps_c16"] / max(
        result["mlflow_rps_c16"], 1e-9
    )
    values["score1_over_noop_rps"] = result["score1_rps_c16"] / max(result["noop_rps_c16"], 1e-9)
    out = {}
    for name, (op, bound) in TARGETS.items():
        v = values[name]
        met = v <= bound if op == "<=" else v >= bound
        out[name] = {"value": round(v, 3), "target": f"{op} {bound}", "met": bool(met)}
    return out


def summary(result: dict[str, Any], soak: bool = False) -> str:
    """Markdown for docs/benchmarks.md: the numbers of this run next to their targets."""
    env = result["environment"]
    where = (
        f"{env['cores']} cores ({env['cpu']}), load {env['load_avg_1m_at_start']:.1f} at start, "
        f"Python {env['python']}, BentoML {env['bentoml']}, LightGBM {env['lightgbm']}, "
        f"MLflow {env['mlflow']}, {env['wrk']}"
    )
    if soak:
        return (
            "| soak | value |\n|---|---|\n"
            f"| duration, connections | {result['duration_s']:.0f} s, {result['connections']} |\n"
            f"| requests (rps) | {result['requests']} ({result['rps']:.0f}/s) |\n"
            f"| errors | {result['errors']} |\n"
            f"| p99 | {result['p99_ms']:.1f} ms |\n"
            f"| RSS before → after | {result['rss_mb_before']} → {result['rss_mb_after']} MB "
            f"({result['rss_growth_pct']:+.1f} %) |\n"
            f"| RSS during the soak | {' → '.join(str(x) for x in result['rss_mb_during'])} MB |"
            f"\n\n{where}"
        )
    rows = [
        ("score1_p50_ms", "ms, 1 concept, 1 connection"),
        ("score1_p99_ms", "ms, 1 concept, 1 connection"),
        ("score1_rps_c16", "req/s, 1 concept, 16 connections"),
        ("score1_rps_c16_tracing", "req/s, the same with HIT_COMPASS_TRACING=1"),
        ("score1_rps_c16_workers2", "req/s, the same with HIT_COMPASS_WORKERS=2"),
        ("noop_rps_c16", "req/s, BentoML endpoint returning a constant"),
        ("noop_same_settings_rps_c16", "req/s, the same no-op on Hit Compass's BentoML settings"),
        ("mlflow_rps_c16", "req/s, `mlflow models serve`, same model"),
        ("batch1000_ms", "ms, one request of 1,000 concepts (median)"),
        ("score10_ms", "ms, one /score request of 10 concepts (median)"),
        ("compare10_ms", "ms, one /compare request of the same 10 (median)"),
        ("in_process_score10_us", "µs, Scorer.score on 10 concepts"),
        ("in_process_compare10_us", "µs, scoring.compare.compare on the same 10"),
        ("in_process_score1_us", "µs, " + result.get("in_process_path", "")),
        ("in_process_floor_us", "µs, the model's own arithmetic: TreeSHAP + pre-test booster"),
    ]
    targets = result["targets"]
    lines = ["| metric | value | target | met |", "|---|---|---|---|"]
    for name, unit in rows:
        t = targets.get(name, {})
        met = "" if not t else ("yes" if t["met"] else "**no**")
        lines.append(f"| `{name}` | {result[name]:.1f} {unit} | {t.get('target', '')} | {met} |")
    for name in ("score1_over_mlflow_rps", "score1_over_noop_rps"):
        t = targets[name]
        met = "yes" if t["met"] else "**no**"
        lines.append(f"| {name} | {t['value']:.2f}× | {t['target']} | {met} |")
    lines.append(
        f"| in_process_over_floor | {result['in_process_over_floor']:.2f}× | reported "
        "(the figure to drive down) |  |"
    )
    if "score1_over_noop_same_settings_rps" in result:
        ratio = result["score1_over_noop_same_settings_rps"]
        lines.append(f"| score1_over_noop_same_settings_rps | {ratio:.2f}× | reported |  |")
    errors = sum(result["errors"].values())
    text = f"\n\n{text_summary(result['text_concept'])}" if "text_concept" in result else ""
    return "\n".join(lines) + f"\n\nerrors in all runs: {errors}; {where}{text}"


def text_summary(text: dict[str, Any]) -> str:
    """Markdown of :func:`text_concept`'s numbers."""
    rows = [
        (
            "in_process_score1_us",
            f"µs, Scorer.score of a {text['spec']} concept (its own words, "
            f"cycling through {text['concepts']}): features, text scores, predict, drivers, "
            "phrases",
        ),
        ("in_process_floor_us", "µs, its model's own arithmetic: TreeSHAP"),
        ("text_scores_us", "µs, the text scores of its text fields alone"),
        ("phrases_us", "µs, their phrases alone"),
        ("simulated_in_process_score1_us", "µs, the simulated default's concept, same run"),
        ("simulated_in_process_floor_us", "µs, its floor, same run"),
    ]
    lines = ["| text concept | value |", "|---|---|"]
    lines += [f"| `{name}` | {text[name]:.1f} {unit} |" for name, unit in rows]
    lines.append(f"| in_process_over_floor | {text['in_process_over_floor']:.2f}× |")
    lines.append(f"| text_over_simulated | {text['text_over_simulated']:.2f}× |")
    return "\n".join(lines) + f"\n\nload {text['load_avg_1m_at_start']:.1f} at start"


# ---- champion ---------------------------------------------------------------------------------
def champion_tag() -> str:
    """Export the simulated default's champion into the BentoML store (training one first if
    there is none)."""
    from training import registry
    from training.pipeline import ensure_champion

    model_name, version = ensure_champion()
    return registry.export_version(version, model_name)


# ---- the benchmark ----------------------------------------------------------------------------
def run(duration_s: float = 10.0, progress: bool = True) -> dict[str, Any]:
    """All servers, all numbers; a dict ready to dump as JSON."""
    from tqdm import tqdm

    from scoring import store
    from scoring.scorer import Scorer

    wrk_path()  # fail before spending minutes on anything else
    started = time.time()
    env_info = environment()
    model, version, tag = store.load(champion_tag())
    scorer = Scorer(model, version)
    concepts = random_concepts(1000)
    one = concepts[0]
    body1 = score_body([one])
    body1000 = score_body(concepts)
    steps = tqdm(total=10, desc="bench serve", disable=not progress)
    res: dict[str, Any] = {"model_tag": tag, "model_version": version}

    res["in_process_score1_us"], res["in_process_path"] = in_process_us(scorer, one)
    res["in_process_floor_us"] = in_process_floor_us(scorer, one)
    res["in_process_over_floor"] = res["in_process_score1_us"] / res["in_process_floor_us"]
    res.update(in_process_compare_us(scorer, concepts))
    res["text_concept"] = text_concept()
    steps.update()

    warm = min(3.0, duration_s)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        env = served_env(tag, work) | ONE_WORKER
        with running_hit_compass(env, work) as srv:
            url = srv.url + "/score"
            answered(srv, url, body1, 16, warm, work)  # warm-up: imports, caches, JIT of nothing
            c1 = answered(srv, url, body1, 1, duration_s, work)
            steps.update()
            c16 = answered(srv, url, body1, 16, duration_s, work)
            steps.update()
            res["batch1000_ms"] = median_post_ms(url, body1000, repeats=9)
            res.update(compare_vs_score(srv.url, concepts))
            steps.update()

        def warmed_c16(srv: Server, path: str, body: bytes) -> dict[str, float]:
            """16 connections for ``duration_s``, after a warm-up."""
            answered(srv, srv.url + path, body, 16, warm, work)
            return answered(srv, srv.url + path, body, 16, duration_s, work)

        # the same service with the OpenTelemetry spans back on: what they cost
        with running_hit_compass(env | TRACING_ON, work) as srv:
            traced = warmed_c16(srv, "/score", body1)
            steps.update()
        with running_hit_compass(env | TWO_WORKERS, work) as srv:
            workers2 = warmed_c16(srv, "/score", body1)
            steps.update()
        with running_noop("NoopService", env, work) as srv:
            noop = warmed_c16(srv, "/score", body1)
            steps.update()
        with running_noop("NoopSameSettingsService", env, work) as srv:
            noop_same = warmed_c16(srv, "/score", body1)
            steps.update()
        port = free_port()
        with running("mlflow", mlflow_cmd(port), port, env, work, "/ping") as srv:
            mlf = warmed_c16(srv, "/invocations", mlflow_body(one, model.spec.input_columns()))
            steps.update()
    steps.update()
    steps.close()

    res.update(
        score1_p50_ms=c1["p50_ms"],
        score1_p99_ms=c1["p99_ms"],
        score1_rps_c1=c1["rps"],
        score1_rps_c16=c16["rps"],
        score1_c16_p99_ms=c16["p99_ms"],
        score1_rps_c16_tracing=traced["rps"],
        score1_rps_c16_workers2=workers2["rps"],
        noop_rps_c16=noop["rps"],
        noop_same_settings_rps_c16=noop_same["rps"],
        mlflow_rps_c16=mlf["rps"],
        errors={
            "score1_c1": c1["errors"],
            "score1_c16": c16["errors"],
            "score1_c16_tracing": traced["errors"],
            "score1_c16_workers2": workers2["errors"],
            "noop_c16": noop["errors"],
            "noop_same_settings_c16": noop_same["errors"],
            "mlflow_c16": mlf["errors"],
        },
        duration_s_per_run=duration_s,
        load_generator="wrk -t1 (one thread, keep-alive), POST with a Lua script",
        environment=env_info,
        wall_s=round(time.time() - started, 1),
    )
    res["targets"] = judge(res)
    # like for like (the same BentoML settings on both sides): reported, not a target
    res["score1_over_noop_same_settings_rps"] = round(
        res["score1_rps_c16"] / max(res["noop_same_settings_rps_c16"], 1e-9), 3
    )
    return res


# ---- soak -------------------------------------------------------------------------------------
def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the BentoML workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def sampled(work: Any, probe: Any, every_s: float) -> tuple[Any, list[float]]:
    """Run ``work()`` in a thread while calling ``probe()`` every ``every_s`` seconds."""
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # re-raised below, in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    series = []
    while thread.is_alive():
        thread.join(every_s)
        if thread.is_alive():
            series.append(probe())
    if "error" in box:
        raise box["error"]
    return box["result"], series


def soak(duration_s: float = 60.0, connections: int = 32, warmup_s: float = 10.0) -> dict[str, Any]:
    """Loopback soak of ``/score``: errors and resident-memory growth of the service tree.

    Memory is sampled after a warm-up at the same load (allocator pools and caches filled), then
    after the soak; growth beyond that is what a leak would show.
    """
    tag = champion_tag()
    concepts = random_concepts(64)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        work = Path(tmp)
        env = served_env(tag, work) | ONE_WORKER
        with running_hit_compass(env, work) as srv:
            url = srv.url + "/score"
            body = score_body(concepts[:1])
            warm = wrk(url, body, connections, warmup_s, work)
            rss_before = tree_rss_mb(srv.proc.pid)
            load, series = sampled(
                lambda: wrk(url, body, connections, duration_s, work),
                lambda: tree_rss_mb(srv.proc.pid),
                every_s=duration_s / 6,
            )
            rss_after = tree_rss_mb(srv.proc.pid)
    return {
        "duration_s": duration_s,
        "connections": connections,
        "requests": load["requests"],
        "rps": load["rps"],
        "p99_ms": load["p99_ms"],
        "errors": load["errors"] + warm["errors"],
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_after, 1),
        "rss_growth_pct": round(100 * (rss_after / rss_before - 1), 2),
        "rss_mb_during": [round(x, 1) for x in series],  # a leak climbs, warm-up flattens
        "model_tag": tag,
        "environment": environment(),
    }
