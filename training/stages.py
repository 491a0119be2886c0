"""Wall-clock seconds per stage of one training run, for ``compass bench train``.

A recorder is passed down explicitly (no global): the pipeline creates one, the stages it
calls add to it, and the result carries it out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Stages:
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock, in the order entered
    # CPU seconds of the whole process (every thread) in the same blocks: on a shared machine
    # wall time depends on the neighbours, CPU time much less
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    # told when a stage starts (seconds None) and when it ends (its seconds): the console's
    # progress lines
    watch: Callable[[str, float | None], None] | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block; a stage entered twice adds up (stages must not nest, so that
        their sum never exceeds the run's wall time)."""
        if self.watch is not None:
            self.watch(name, None)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + time.process_time() - cpu
        if self.watch is not None:  # not after a failure: the error says what happened
            self.watch(name, seconds)
