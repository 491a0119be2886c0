"""The prediction log: every scored concept (HTTP or batch), appended to SQLite in WAL mode.

One row per concept and endpoint: request id, UTC time, endpoint, registered model and its
version (version numbers alone collide: each spec's model counts its own), concept id, inputs
and outputs (JSON). ``append`` commits before it returns, and the service calls it before
it answers, so a request that got a 200 is in the log. In WAL mode a committed transaction is in
the WAL file; with ``synchronous=NORMAL`` it survives the process being killed (``kill -9``), and
``HIT_COMPASS_LOG_SYNC=FULL`` makes it survive power loss too (an fsync per commit).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from core.locks import setting_up
from core.settings import settings
from features.tables import write_table

DB_NAME = "predictions.db"
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    logged_at TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model_version TEXT NOT NULL,
    concept_id TEXT,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id);
-- recorded outcomes look up whether (and when) a concept was scored
CREATE INDEX IF NOT EXISTS predictions_concept ON predictions (concept_id);
"""
# added after the first logs were written: older rows keep NULL (model not recorded)
_ADDED_COLUMNS = {"model": "TEXT"}
COLUMNS = [
    "id",
    "request_id",
    "item",
    "logged_at",
    "endpoint",
    "model_version",
    "model",
    "concept_id",
    "inputs",
    "outputs",
]


def json_bytes(obj: Any) -> bytes:
    """Compact JSON (NaN as null); anything JSON has no type for (numpy scalars...) as its
    string. The service answers with the same bytes it logs."""
    return to_json(obj, fallback=str, inf_nan_mode="null")  # NaN is not JSON


def new_request_id() -> str:
    return uuid.uuid4().hex


def default_path() -> Path:
    """``<state folder>/predictions.db``."""
    return settings().state_dir / DB_NAME


class PredictionLog:
    """Append-only SQLite log, safe to share between threads (one connection, one lock).

    ``background_checkpoint``: copy the WAL into the database from a thread of its own (every
    ``CHECKPOINT_EVERY_S``) instead of inside whichever append crosses SQLite's threshold; that
    append would otherwise wait for the copy and its fsync (milliseconds). The service uses it."""

    CHECKPOINT_EVERY_S = 1.0

    def __init__(self, path: str | Path | None = None, background_checkpoint: bool = False) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        sync = settings().log_sync
        with setting_up(self.path, "the prediction log"):  # commands started together
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.execute("PRAGMA busy_timeout=10000")  # batch runs and servers may share it
            self._db.executescript(_SCHEMA)
            self._add_columns()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if background_checkpoint:
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="prediction-log-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _add_columns(self) -> None:
        """Bring a log written by an older release up to date. Two processes may open the
        same old log at once: the ALTER runs in a write transaction that re-reads the columns,
        so only one adds each."""
        with self.transaction() as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(predictions)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")

    def _checkpoint_loop(self) -> None:
        # Its own connection: sqlite3 releases the GIL while it copies, and a PASSIVE checkpoint
        # never blocks the appends. Any failure is logged and retried: a dead thread would let
        # the WAL grow without bound.
        db: sqlite3.Connection | None = None
        while not self._stop.wait(self.CHECKPOINT_EVERY_S):
            try:
                if db is None:
                    db = sqlite3.connect(self.path, isolation_level=None)
                busy, _, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if busy:
                    log.info("prediction log checkpoint deferred: database busy")
            except Exception as exc:
                log.warning("prediction log checkpoint failed (will retry): %s", exc)
                if db is not None:
                    with contextlib.suppress(Exception):
                        db.close()
                db = None
        if db is not None:
            db.close()

    def append(
        self,
        endpoint: str,
        request_id: str,
        model_version: str,
        inputs: Sequence[dict[str, Any]],
        outputs: Sequence[Any],
        items: Sequence[int] | None = None,
        id_field: str = "concept_id",
        model: str | None = None,
    ) -> None:
        """Log one row per (input, output) pair in one committed transaction; ``items`` numbers
        them (default 0, 1, ...; batch scoring passes the input row numbers); ``id_field`` is
        the input holding the concept's identifier (the spec's id column); ``model`` the
        registered model that answered."""
        self.append_json(
            endpoint,
            request_id,
            model_version,
            inputs,
            map(json_bytes, outputs),
            items,
            id_field,
            model,
        )

    def append_json(
        self,
        endpoint: str,
        request_id: str,
        model_version: str,
        inputs: Sequence[dict[str, Any]],
        outputs: Iterable[bytes],
        items: Sequence[int] | None = None,
        id_field: str = "concept_id",
        model: str | None = None,
    ) -> None:
        """:meth:`append` for outputs already serialised to JSON (the service sends the same
        bytes to the client)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        rows = [
            (
                request_id,
                i,
                now,
                endpoint,
                model_version,
                model,
                str(inp.get(id_field, "")),
                json_bytes(inp).decode(),
                out.decode(),
            )
            for i, inp, out in zip(
                items if items is not None else range(len(inputs)), inputs, outputs, strict=True
            )
        ]
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO predictions (request_id, item, logged_at, endpoint, "
                "model_version, model, concept_id, inputs, outputs) VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The log's connection in one write transaction, committed at the end of the block
        (rolled back if it raises), under the log's lock. The outcome store
        (``scoring.outcomes``) writes through it: one connection, one lock, one checkpointer."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """All rows of one read, under the log's lock (never inside another thread's write)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def rows(self, batch: int = 10_000) -> Iterator[list[tuple]]:
        """All rows in insertion order, ``batch`` at a time."""
        cur = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM predictions ORDER BY id")
        while chunk := cur.fetchmany(batch):
            yield chunk

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
        with self._lock:
            self._db.close()


def export(path: str | Path, out: str | Path) -> int:
    """Write the log at ``path`` to Parquet or CSV (by ``out``'s suffix); return rows written.

    inputs / outputs stay JSON strings; hit_probability is also pulled out as a column."""
    import pandas as pd

    log = PredictionLog(path)
    try:
        frames = [pd.DataFrame(chunk, columns=COLUMNS) for chunk in log.rows()]
    finally:
        log.close()
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    frame["hit_probability"] = [
        json.loads(o).get("hit_probability") if o.startswith("{") else None
        for o in frame["outputs"].astype(str)
    ]
    write_table(frame, Path(out))
    return len(frame)
