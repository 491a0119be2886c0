"""Settings: every variable read in one place, typed; a bad value is refused by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.model_tag == "hit-compass:latest" and s.host == "127.0.0.1"
    assert s.api_key is None and s.access_log is True and s.tracing is False
    assert s.workers == 1
    assert s.db_url is None  # the prediction log in SQLite
    assert s.mlflow_uri == f"sqlite:///{s.state_dir / 'mlflow.db'}"


def test_values_are_parsed_and_typed(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "HIT_COMPASS_STATE": str(tmp_path),
            "HIT_COMPASS_MAX_BATCH": "25",
            "HIT_COMPASS_TRACING": "yes",
            "HIT_COMPASS_ACCESS_LOG": "off",
            "HIT_COMPASS_LOG_SYNC": "full",
            "HIT_COMPASS_WORKERS": "2",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
            "HIT_COMPASS_DB_URL": "postgresql://team@db.internal:5432/compass",
            "HIT_COMPASS_API_KEY": "",  # empty = unset
        }
    )
    assert s.state_dir == tmp_path and s.max_batch == 25 and s.log_sync == "FULL"
    assert s.tracing is True and s.access_log is False and s.api_key is None
    assert s.workers == 2
    assert s.mlflow_uri == "http://127.0.0.1:5000"
    assert s.db_url == "postgresql://team@db.internal:5432/compass"


@pytest.mark.parametrize(
    "var, value",
    [
        ("HIT_COMPASS_TRACING", "maybe"),
        ("HIT_COMPASS_MAX_BATCH", "-3"),
        ("HIT_COMPASS_MAX_BODY_BYTES", "1e6"),
        ("HIT_COMPASS_LOG_SYNC", "sometimes"),
        ("HIT_COMPASS_WORKERS", "0"),
        ("HIT_COMPASS_DB_URL", "sqlite:///state/predictions.db"),
    ],
)
def test_a_bad_value_names_its_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: value})


def test_every_field_names_its_variable() -> None:
    names = [f.description for f in Settings.model_fields.values()]
    assert all(n and (n.startswith("HIT_COMPASS_") or n == "MLFLOW_TRACKING_URI") for n in names)
    assert len(set(names)) == len(names)


def test_nothing_else_reads_hit_compass_variables() -> None:
    """One settings module: no other application module reads a HIT_COMPASS_* variable."""
    repo = Path(__file__).resolve().parents[2]
    reads = re.compile(r"(environ|getenv)\W[^\n]*HIT_COMPASS_|envvar=\W*HIT_COMPASS_")
    readers = [
        str(path.relative_to(repo))
        for package in ("features", "models", "scoring", "training", "serving", "compass")
        for path in (repo / package).glob("*.py")
        if reads.search(path.read_text())
    ]
    assert not readers, readers
    assert reads.search('os.environ.get("HIT_COMPASS_MODEL")')  # the check can fail
