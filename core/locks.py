"""One command at a time through a store's first-time setup in the state folder.

Several commands started together on a fresh state folder would each create and migrate the
same SQLite database: three ``compass train`` at once died inside MLflow's migration
(``alembic_version`` CommandError) in all but one. Each store's setup runs under a file lock
beside its database; a command that has to wait says so (a warning of this module's logger:
on stderr, or on a command's console) and waits. The lock is the operating system's
(``flock``): a command that dies releases it, so no stale lock file blocks the next one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
WAIT_S = 600.0  # a first setup takes seconds; this long means the holder is stuck


@contextlib.contextmanager
def one_at_a_time(lock_path: Path, waiting: str, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the block. If another process holds it, print
    ``waiting`` once and wait for it, at most ``wait_s`` seconds (then TimeoutError)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning(waiting)
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise TimeoutError(
                f"{waiting}: still held by another process after {wait_s:.0f} s ({lock_path})"
            ) from None
    try:
        yield
    finally:
        lock.release()


def setting_up(db_path: Path, what: str) -> contextlib.AbstractContextManager[None]:
    """:func:`one_at_a_time` for the first-time setup of the database at ``db_path``."""
    return one_at_a_time(
        db_path.with_name(db_path.name + ".setup.lock"),
        f"waiting for {what} (another command is setting it up)",
    )


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI; None for anything else (a server sets itself up)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None
