"""In-process timing shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_us(work: Callable[[], Any], repeats: int, warmup: int = 20) -> float:
    """Median µs of ``work()`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        work()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3
