"""Which model every service worker and replica serves: the store tag published in shared state.

``/admin/reload`` and ``compass export`` publish a tag here; each worker reads it off the request
path (``serving.reload.Follower``) and loads a publication it has not acted on, so a reload
reaches every worker of a server and every replica sharing the database without a restart. One
row per served registered model (each spec's service follows its own). The table lives in the
prediction log's database and is reached only through ``PredictionLog.transaction()`` /
``query()``, with SQL that SQLite and PostgreSQL both take.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from scoring.prediction_log import PredictionLog

_TABLE = """
CREATE TABLE IF NOT EXISTS served_models (
    model TEXT PRIMARY KEY,
    tag TEXT NOT NULL,
    publication TEXT NOT NULL,
    published_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Publication:
    """A published tag; ``id`` is new for every publication, so publishing the same tag again
    (e.g. once it reached a replica's store) is seen as news."""

    tag: str
    id: str
    at: dt.datetime


class ServedModels:
    """The published tag per registered model, in ``log``'s database."""

    def __init__(self, log: PredictionLog) -> None:
        self.log = log
        with log.transaction() as db:
            db.execute(_TABLE)

    def publish(self, model: str, tag: str) -> Publication:
        """Make ``tag`` (a resolved store tag, not ``:latest``) what ``model``'s services serve."""
        publication = Publication(tag, uuid.uuid4().hex, dt.datetime.now(dt.UTC))
        with self.log.transaction() as db:
            # delete + insert rather than an upsert: the same two statements on every database
            db.execute("DELETE FROM served_models WHERE model = ?", (model,))
            db.execute(
                "INSERT INTO served_models (model, tag, publication, published_at) "
                "VALUES (?, ?, ?, ?)",
                (model, tag, publication.id, publication.at.isoformat()),
            )
        return publication

    def current(self, model: str) -> Publication | None:
        """The latest publication for ``model``; None if nothing was ever published."""
        rows = self.log.query(
            "SELECT tag, publication, published_at FROM served_models WHERE model = ?", (model,)
        )
        if not rows:
            return None
        tag, publication, at = rows[0]
        return Publication(tag, publication, dt.datetime.fromisoformat(at))
