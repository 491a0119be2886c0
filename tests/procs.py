"""Stopping a real `bentoml serve` with everything it started.

BentoML's worker runs in a session of its own, so signalling the server's process group alone
leaves the worker (the process that scores and logs) running: collect the tree first."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import psutil


def _tree(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the server, its process group and every descendant, at once."""
    children = _tree(proc)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.send_signal(sig)


def stop_tree(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the whole tree, then SIGKILL whatever is still there."""
    children = _tree(proc)
    kill_tree(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc, signal.SIGKILL)
        proc.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
