"""The console a person reads while a command works, and the log file that takes the rest.

A command's own lines (its stages with their seconds, the result, where to look) go to the
console, the terminal's stderr; stdout carries only the command's answer, for scripts (``make
serve`` reads the served tag so). Everything the libraries say while it works (MLflow's and
alembic's INFO lines, pandas' and MLflow's warnings, BentoML's chatter, LightGBM's and child
processes' output) goes to a log file in the state folder, ``logs/<command>-<time>-<pid>.log``,
whose path the command prints once. The redirection is made on the file descriptors, so output
written below Python (C libraries, child processes, forked tuning workers) follows it.

With ``--verbose`` (``HIT_COMPASS_VERBOSE``) nothing goes to a file: the libraries' lines, INFO
included, appear on the console between the command's own.

The project's own loggers (``core``, ``features``, ..., ``compass``) reach the console too at
WARNING and above: a message a user must read goes there, not into the log file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from core.settings import state_dir

# set before the libraries read them (MLflow reads its logging switch at import)
LIBRARY_SWITCHES = {
    # about a hundred "Downloading artifacts" tqdm bars per `make serve` otherwise
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # MLflow's loggers then propagate to the root logger (the log file, or the console with
    # --verbose) instead of MLflow's own handler on stderr
    "MLFLOW_CONFIGURE_LOGGING": "false",
}
PROJECT_PACKAGES = frozenset(
    ("core", "features", "models", "scoring", "training", "serving", "benchmarks", "compass")
)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_libraries() -> None:
    """The libraries' switches (:data:`LIBRARY_SWITCHES`), unless the environment sets them."""
    for name, value in LIBRARY_SWITCHES.items():
        os.environ.setdefault(name, value)


def log_file(command: str) -> Path:
    """A new log file's path for one run of ``command``: ``<state>/logs/<command>-<time>-<pid>.log``
    (commands started together each get their own)."""
    folder = state_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when inside it (shorter to read), else whole."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Console:
    """Where a command's own lines go: :meth:`say` a line; :meth:`status` a line that the next
    one replaces (on a terminal only: a stage being worked on)."""

    def __init__(self, stream: TextIO, log: TextIO | None = None) -> None:
        self.stream, self.log = stream, log
        self._status = False
        # status lines on a terminal, and only when no library writes between them (no log:
        # --verbose)
        self._live = log is not None and _is_terminal(stream)

    def say(self, line: str, to_log: bool = True) -> None:
        self._clear_status()
        self.stream.write(line + "\n")
        self.stream.flush()
        if to_log and self.log is not None:  # the log reads as a whole: the command's lines too
            self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} compass: {line}\n")
            self.log.flush()

    def status(self, line: str) -> None:
        if not self._live:
            return
        self._clear_status()
        self.stream.write(line)
        self.stream.flush()
        self._status = True

    def _clear_status(self) -> None:
        if self._status:
            self.stream.write("\r\x1b[K")  # back to the line's start, erase it
            self._status = False


@contextlib.contextmanager
def quiet(log: Path, verbose: bool = False) -> Iterator[Console]:
    """While a command works: its :class:`Console`; the libraries' output to ``log`` (its path
    said first) or, ``verbose``, to the console; stdout to either, so that after the block
    stdout carries only the answer printed then. Restored on leaving (an error's traceback is
    written to the log first)."""
    sys.stdout.flush()
    sys.stderr.flush()
    console_stream, console_owned = _console_stream()
    log_stream = None if verbose else log.open("a", buffering=1, encoding="utf-8", errors="replace")
    console = Console(console_stream, log_stream)
    saved_fds = _point_fds(log_stream.fileno() if log_stream else None)
    root = logging.getLogger()
    saved_level, handler = root.level, _handler(log_stream)
    project = _ProjectWarnings(console)
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    if log_stream is not None:
        root.addHandler(project)
    logging.captureWarnings(True)
    if log_stream is not None:
        console.say(f"log file: {shown_path(log)} (compass --verbose shows it here)")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield console
    except Exception:
        if log_stream is not None:
            traceback.print_exc(file=log_stream)
        raise
    finally:
        console._clear_status()
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.removeHandler(project)
        root.setLevel(saved_level)
        sys.stdout.flush()
        sys.stderr.flush()
        _restore_fds(saved_fds)
        if log_stream is not None:
            log_stream.close()
        console_stream.flush()
        if console_owned:
            console_stream.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _real_fd(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return None  # an in-memory stream (a test's runner): no descriptor to move


def _console_stream() -> tuple[TextIO, bool]:
    """The terminal's stderr as it is now, kept apart from descriptor 2 (which the block
    points at the log); (stream, whether this opened it). A stderr on another descriptor or
    none (a test's capture) is the console as it is."""
    if _real_fd(sys.stderr) != 2:
        return sys.stderr, False
    return os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace"), True


def _point_fds(log_fd: int | None) -> list[tuple[int, int]]:
    """Descriptor 1 to the log (or, without one, to descriptor 2) and descriptor 2 to the log:
    child processes inherit them. The saved (descriptor, copy) pairs."""
    targets = [(1, log_fd if log_fd is not None else 2)]
    if log_fd is not None:
        targets.append((2, log_fd))
    saved = [(fd, os.dup(fd)) for fd, _ in targets]
    for fd, target in targets:
        os.dup2(target, fd)
    return saved


def _restore_fds(saved: list[tuple[int, int]]) -> None:
    for fd, copy in reversed(saved):
        os.dup2(copy, fd)
        os.close(copy)


def _handler(log_stream: TextIO | None) -> logging.Handler:
    """Every logger's INFO and up: to the log file, or (verbose) to stderr, the console."""
    handler = logging.StreamHandler(log_stream if log_stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    return handler


class _ProjectWarnings(logging.Handler):
    """The project's own warnings and errors, on the console (the root's handler writes them to
    the log file)."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.partition(".")[0] in PROJECT_PACKAGES:
            self.console.say(self.format(record), to_log=False)
