"""``compass bench train``: how `compass train` grows with the launch history.

Per size: simulate that many launches (a process of its own, which reports its seconds and
peak memory: the simulator must stay under 4 GB at 1,000,000), then train on them in a fresh
process with a fresh state folder (its own MLflow store, no tuned params), so one size's memory
never counts against another's. The training process reports its wall time (the pipeline from
loading the file to the promotion gate; interpreter start and imports excluded), its peak
resident memory (``ru_maxrss``), the seconds of each stage (``training.stages``), and the test
AUC / log loss next to the Bayes limit on the same test rows. The fresh MLflow store is created
before the clock starts (a one-time set-up, not part of training).

Everything here is measured by running the pipeline; nothing is a constant.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from training import DEFAULT_SPEC

DEFAULT_SIZES = (20_000, 200_000, 1_000_000)


def machine() -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "load_avg_1m_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    seed: int = 7,
    spec_path: Path = DEFAULT_SPEC,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Simulate and train each size in fresh processes; the benchmark's JSON."""
    out: dict[str, Any] = {"machine": machine(), "seed": seed, "spec": str(spec_path)}
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for n in sizes:
            data, state = Path(tmp) / f"launches_{n}.parquet", Path(tmp) / f"state_{n}"
            say(f"simulating {n} launches")
            simulated = _child(["simulate", str(n), str(seed), str(data)], state)
            say(f"training on {n} launches")
            row = _child(["train", str(data), str(spec_path)], state)
            row["simulate_s"] = simulated["wall_s"]
            row["simulate_peak_rss_mb"] = simulated["peak_rss_mb"]
            data.unlink()
            say(
                f"n={n}: {row['wall_s']:.1f} s, peak {row['peak_rss_mb']:.0f} MB, "
                f"test AUC {row['test_auc']:.4f} (Bayes {row['bayes_auc']:.4f})"
            )
            rows.append(row)
    out["sizes"] = rows
    out["seconds_total"] = round(time.perf_counter() - started, 1)
    return out


def _child(args: list[str], state: Path) -> dict[str, Any]:
    """Run this module in a fresh interpreter; its last stdout line is its JSON answer."""
    env = {
        **os.environ,
        "HIT_COMPASS_STATE": str(state),
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",  # the fresh folder's store
        "TQDM_DISABLE": "1",
    }
    state.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.train", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench train {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _simulate(n: int, seed: int, path: Path) -> dict[str, Any]:
    from features.simulator import simulate

    start = time.perf_counter()
    simulate(n, seed).to_parquet(path, index=False)
    return {
        "rows": n,
        "wall_s": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _train(data: Path, spec_path: Path) -> dict[str, Any]:
    from training import registry
    from training.pipeline import run_training

    # the fresh store's one-time schema set-up is not training: done before the clock starts
    registry.configure()
    start, cpu = time.perf_counter(), time.process_time()
    result = run_training(data=data, spec_path=spec_path)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    metrics, baselines = result["test_metrics"], result["evaluation"]["baselines"]
    stages = result["stages"]
    return {
        "n": int(result["data_report"]["rows_read"]),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage / 1024, 1),
        "stages": {k: round(v, 2) for k, v in stages.seconds.items()},
        # CPU seconds (all threads): comparable across runs on a busy machine, unlike wall
        "cpu_s": round(cpu, 2),
        "stages_cpu_s": {k: round(v, 2) for k, v in stages.cpu_seconds.items()},
        "test_auc": round(float(metrics["auc"]), 5),
        "test_logloss": round(float(metrics["logloss"]), 5),
        "bayes_auc": round(float(baselines["bayes"]["auc"]), 5) if "bayes" in baselines else None,
        "train_rows": len(result["train_result"].train),
        "test_rows": len(result["train_result"].test),
    }


def markdown(result: dict[str, Any]) -> str:
    """docs/benchmarks.md's table, from the JSON."""
    rows = result["sizes"]
    stages = list(dict.fromkeys(k for r in rows for k in r["stages"]))
    head = ["launches", "wall s", "peak RSS MB", "test AUC", "Bayes AUC", "test log loss"]
    head += ["simulate s", "simulate peak MB"]
    lines = [
        "| " + " | ".join(head + stages) + " |",
        "|" + "---|" * (len(head) + len(stages)),
    ]
    for r in rows:
        cells = [
            f"{r['n']:,}",
            f"{r['wall_s']:.1f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['test_auc']:.4f}",
            "" if r["bayes_auc"] is None else f"{r['bayes_auc']:.4f}",
            f"{r['test_logloss']:.4f}",
            f"{r['simulate_s']:.1f}",
            f"{r['simulate_peak_rss_mb']:.0f}",
            *(f"{r['stages'].get(s, 0.0):.1f}" for s in stages),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    m = result["machine"]
    lines.append("")
    lines.append(
        f"{m['cores']} cores ({m['cpu']}), load {m['load_avg_1m_at_start']:.1f} at start, "
        f"Python {m['python']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "simulate":
        answer = _simulate(int(rest[0]), int(rest[1]), Path(rest[2]))
    elif command == "train":
        answer = _train(Path(rest[0]), Path(rest[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(answer))
