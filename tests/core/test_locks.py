"""First-time setup one command at a time: a second process waits, says so, then goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.locks import setting_up, sqlite_path

REPO = Path(__file__).resolve().parents[2]
OTHER_COMMAND = """
import sys
from pathlib import Path
from core.locks import setting_up
db = Path(sys.argv[1])
with setting_up(db, "the test store"):
    db.write_text("set up by the other command")
"""


def test_a_second_command_waits_with_a_message(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with setting_up(db, "the test store"):
        other = subprocess.Popen(
            [sys.executable, "-c", OTHER_COMMAND, str(db)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert other.stderr is not None
        line = other.stderr.readline()  # blocks until it says it waits: it holds no lock yet
        assert line.strip() == "waiting for the test store (another command is setting it up)"
        assert not db.exists()
    assert other.wait(timeout=60) == 0, other.stderr.read()
    assert db.read_text() == "set up by the other command"


def test_sqlite_path_only_for_sqlite_files() -> None:
    assert sqlite_path("sqlite:////srv/state/mlflow.db") == Path("/srv/state/mlflow.db")
    assert sqlite_path("postgresql://db/mlflow") is None
    assert sqlite_path("http://127.0.0.1:5000") is None
