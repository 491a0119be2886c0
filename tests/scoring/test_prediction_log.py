"""The prediction log: every answered concept is in it, even after the server is killed."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import kill_server, serving
from procs import kill_tree

from scoring.prediction_log import COLUMNS, PredictionLog, default_path, export


def _logged(db: Path, request_id: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT endpoint, item, concept_id, inputs, outputs FROM predictions "
            "WHERE request_id = ? ORDER BY item",
            (request_id,),
        ).fetchall()


def test_log_lives_in_the_state_folder_in_wal_mode(state_dir: Path, tmp_path: Path) -> None:
    from core.settings import state_dir as registry_state

    assert default_path() == registry_state() / "predictions.db"
    log = PredictionLog(tmp_path / "p.db")
    assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    log.append("score", "r1", "7", [{"concept_id": "a"}, {"concept_id": "b"}], [{"x": 1}, {"x": 2}])
    assert log.count() == 2
    log.close()
    n = export(tmp_path / "p.db", tmp_path / "log.parquet")
    frame = pd.read_parquet(tmp_path / "log.parquet")
    assert n == 2 and frame["concept_id"].tolist() == ["a", "b"]
    assert set(frame["model_version"]) == {"7"} and frame["logged_at"].str.endswith("+00:00").all()


def test_one_interface_on_both_databases(log_location, tmp_path: Path) -> None:
    """Append, read back in order, count and export: the same on SQLite and PostgreSQL."""
    log = PredictionLog(log_location)
    log.append("score", "r1", "7", [{"concept_id": "a"}, {"concept_id": "b"}], [{"x": 1}, {}])
    log.append(
        "batch",
        "r2",
        "8",
        [{"sku": "c"}],
        [{"x": 0.5}],
        items=[41],
        id_field="sku",
        model="hit-compass-x",
    )
    chunks = list(log.rows(batch=2))
    assert [len(c) for c in chunks] == [2, 1] and log.count() == 3
    rows = [dict(zip(COLUMNS, r, strict=True)) for c in chunks for r in c]
    assert [(r["request_id"], r["item"], r["concept_id"]) for r in rows] == [
        ("r1", 0, "a"),
        ("r1", 1, "b"),
        ("r2", 41, "c"),
    ]
    assert rows[2]["model"] == "hit-compass-x" and rows[0]["model"] is None
    assert json.loads(rows[2]["inputs"]) == {"sku": "c"}
    log.close()
    assert export(log_location, tmp_path / "log.csv") == 3


def test_portable_sql_runs_on_both_databases(log_location) -> None:
    """What another table beside the log writes: ``?`` placeholders, a ``%`` and a ``?`` in
    quoted literals, an upsert, a rollback."""
    log = PredictionLog(log_location)
    log.create_tables(["CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)"])
    upsert = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    with log.transaction() as db:
        assert db.executemany(upsert, [("a", "1"), ("b", "50%")]) == 2
        db.execute(upsert, ("a", "2"))
    with pytest.raises(RuntimeError), log.transaction() as db:
        db.execute(upsert, ("c", "3"))
        raise RuntimeError("rolled back")
    assert log.query("SELECT k, v FROM kv WHERE v LIKE '%0' || ? ORDER BY k", ("%",)) == [
        ("b", "50%")
    ]
    assert log.query("SELECT k, v, 'why?' FROM kv ORDER BY k") == [
        ("a", "2", "why?"),
        ("b", "50%", "why?"),
    ]
    log.close()


def test_many_processes_open_a_new_log_at_once(log_location) -> None:
    """Replicas starting together each create the tables if missing: none fails, none
    duplicates (PostgreSQL's catalog would refuse two concurrent CREATE TABLE of one name)."""
    logs: list[PredictionLog] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            logs.append(PredictionLog(log_location))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, log in enumerate(logs):
        log.append("score", f"r{i}", "1", [{"concept_id": str(i)}], [{}])
    assert logs[0].count() == 6
    for log in logs:
        log.close()


def test_an_unreachable_database_is_named_without_its_password(pg_url: str) -> None:
    from scoring.prediction_log import LogError

    port = pg_url.rsplit(":", 1)[1].split("/")[0]
    bad = pg_url.replace("postgres@", "postgres:s3cret@").replace(port, "1")
    with pytest.raises(LogError, match="HIT_COMPASS_DB_URL") as err:
        PredictionLog(bad)
    assert "s3cret" not in str(err.value) and "postgres:***@127.0.0.1:1/" in str(err.value)


def test_the_log_reconnects_when_postgresql_drops_its_connection(pg_url: str) -> None:
    """A server restart closes every client's connection: the service's log must not fail
    every request after it. (The server ending the log's session is what its clients see of a
    restart; restarting the session's shared server would cut the other tests' too.)"""
    import psycopg

    log = PredictionLog(pg_url)
    try:
        log.append("/score", "before", "1", [{"concept_id": "a"}], [{"p_hit": 0.1}])
        with psycopg.connect(pg_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        assert ended == [(True,)]  # the log's one connection
        log.append("/score", "after", "1", [{"concept_id": "b"}], [{"p_hit": 0.2}])
        assert log.count() == 2
        with psycopg.connect(pg_url, autocommit=True) as admin:  # and a read does too
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert [r[1] for r in log.query("SELECT id, request_id FROM predictions ORDER BY id")] == [
            "before",
            "after",
        ]
    finally:
        log.close()


def test_every_endpoint_logs_inputs_and_outputs(client, concept: dict) -> None:
    db = default_path()
    r = client.post("/score", json={"concepts": [concept, {**concept, "concept_id": "second"}]})
    rid = r.json()[0]["request_id"]
    rows = _logged(db, rid)
    assert [(e, i, c) for e, i, c, _, _ in rows] == [
        ("score", 0, concept["concept_id"]),
        ("score", 1, "second"),
    ]
    assert json.loads(rows[0][3]) == concept
    assert json.loads(rows[1][4]) == r.json()[1]
    for path, body in (
        ("/target", {"concept": concept}),
        ("/whatif", {"concept": concept, "lever": "price"}),
    ):
        out = client.post(path, json=body).json()
        assert json.loads(_logged(db, out["request_id"])[0][4]) == out
    fc = client.post("/forecast", json={"concepts": [concept]}).json()
    assert _logged(db, fc[0]["request_id"])[0][0] == "forecast"


def test_rejected_request_is_not_logged_as_answered(client, concept: dict) -> None:
    before = PredictionLog().count()
    r = client.post("/score", json={"concepts": [{**concept, "price": -1}]})
    assert r.status_code == 400
    assert PredictionLog().count() == before


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_log_survives_kill_9(
    champion: dict, concept: dict, backend: str, request: pytest.FixtureRequest
) -> None:
    """Hammer a real `bentoml serve` from 4 threads, kill -9 its whole process group mid-flight:
    every request that got a 200 is in the log, with all its concepts; the log in the state
    folder's SQLite, then in PostgreSQL (HIT_COMPASS_DB_URL)."""
    location = default_path() if backend == "sqlite" else request.getfixturevalue("pg_url")
    env = {} if backend == "sqlite" else {"HIT_COMPASS_DB_URL": str(location)}
    answered: list[tuple[str, int]] = []
    lock, stop = threading.Lock(), threading.Event()

    def fire(url: str, worker: int) -> None:
        with httpx.Client(timeout=10) as http:
            k = 0
            while not stop.is_set():
                k += 1
                n = 1 + (k + worker) % 3
                body = {
                    "concepts": [{**concept, "concept_id": f"w{worker}-{k}-{i}"} for i in range(n)]
                }
                try:
                    r = http.post(f"{url}/score", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        answered.append((r.json()[0]["request_id"], n))

    with serving(env, stop=kill_server) as (url, proc):
        threads = [threading.Thread(target=fire, args=(url, w)) for w in range(4)]
        for t in threads:
            t.start()
        try:
            while len(answered) < 80 and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            kill_tree(proc)  # kill -9 server and worker mid-flight: requests are still being sent
            proc.wait(timeout=30)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
    assert len(answered) >= 80
    log = PredictionLog(location)  # a connection of its own, after the server died
    counts = dict(
        log.query(
            "SELECT request_id, COUNT(*) FROM predictions WHERE endpoint = 'score' "
            "GROUP BY request_id"
        )
    )
    log.close()
    missing = [(rid, n) for rid, n in answered if counts.get(rid) != n]
    assert not missing, f"{len(missing)} answered requests not fully logged: {missing[:5]}"


def test_background_checkpoint_copies_the_wal_off_the_request_path(tmp_path: Path) -> None:
    """Appends never checkpoint themselves (no autocheckpoint); a thread of the log's own does."""
    log = PredictionLog(tmp_path / "p.db", background_checkpoint=True)
    assert log._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    main_file = tmp_path / "p.db"
    before = main_file.stat().st_size
    for i in range(300):
        log.append("score", f"r{i}", "1", [{"concept_id": "c" * 500}], [{"x": "y" * 500}])
    # until the file grows: the ceiling only keeps a dead checkpointer from hanging the suite
    deadline = time.monotonic() + 60 * PredictionLog.CHECKPOINT_EVERY_S
    while main_file.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert main_file.stat().st_size > before, "the WAL was never copied into the database"
    log.close()
    assert not log._checkpointer.is_alive()


def test_a_log_from_before_the_model_column_is_brought_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as con:  # the table as releases before the model column wrote it
        con.execute(
            "CREATE TABLE predictions (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, "
            "item INTEGER NOT NULL, logged_at TEXT NOT NULL, endpoint TEXT NOT NULL, "
            "model_version TEXT NOT NULL, concept_id TEXT, inputs TEXT NOT NULL, "
            "outputs TEXT NOT NULL)"
        )
        con.execute(
            "INSERT INTO predictions (request_id, item, logged_at, endpoint, model_version, "
            "concept_id, inputs, outputs) VALUES ('old', 0, '2026-01-01T00:00:00+00:00', "
            "'score', '3', 'a', '{}', '{}')"
        )
    logs = [PredictionLog(db), PredictionLog(db)]  # two processes opening it at once
    logs[0].append("score", "new", "3", [{"concept_id": "b"}], [{}], model="hit-compass-x")
    rows = [r for chunk in logs[1].rows() for r in chunk]
    for log in logs:
        log.close()
    model = COLUMNS.index("model")
    assert [(r[1], r[model]) for r in rows] == [("old", None), ("new", "hit-compass-x")]


def test_each_answer_names_the_registered_model(client, concept: dict) -> None:
    rid = client.post("/score", json={"concepts": [concept]}).json()[0]["request_id"]
    with sqlite3.connect(default_path()) as con:
        (model,) = con.execute(
            "SELECT model FROM predictions WHERE request_id = ?", (rid,)
        ).fetchone()
    assert model == "hit-compass"


def test_the_commands_follow_hit_compass_db_url(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`compass log export` reads the PostgreSQL log HIT_COMPASS_DB_URL names; a database it
    cannot reach is a one-line error naming the setting, not a traceback."""
    from typer.testing import CliRunner

    from compass.cli import app

    monkeypatch.setenv("HIT_COMPASS_DB_URL", pg_url)
    out = tmp_path / "log.parquet"
    r = CliRunner().invoke(app, ["log", "export", "-o", str(out)])
    assert r.exit_code == 2 and "no prediction log at" in r.output  # nothing logged yet
    log = PredictionLog()  # the setting's database, not the state folder's file
    log.append("score", "r-pg", "4", [{"concept_id": "pg"}], [{"hit_probability": 0.25}])
    log.close()
    r = CliRunner().invoke(app, ["log", "export", "-o", str(out)])
    assert r.exit_code == 0, r.output
    frame = pd.read_parquet(out)
    assert frame["request_id"].tolist() == ["r-pg"] and frame["hit_probability"].tolist() == [0.25]
    monkeypatch.setenv("HIT_COMPASS_DB_URL", pg_url.rsplit(":", 1)[0] + ":1/nowhere")
    r = CliRunner().invoke(app, ["log", "export", "-o", str(out)])
    assert r.exit_code == 1 and "HIT_COMPASS_DB_URL: cannot open the prediction log" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
