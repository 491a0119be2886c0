"""Every setting Hit Compass reads from the environment, in one place, typed.

``Settings.from_env()`` reads the variables below (and nothing else reads the environment for
them); a bad value is refused with a message that names the variable. Callers read the settings
when they start (the service at import, a command when it runs), never per request.

Each field's description names its variable; defaults in brackets:

* ``HIT_COMPASS_STATE`` -> ``state_dir`` [./state]: the MLflow DB and artifacts, the BentoML
  store (the Makefile puts ``BENTOML_HOME`` there), the prediction log, the Optuna study, the
  tuned params and each registered model's latest monitor summary (``monitor/<model>.json``).
* ``MLFLOW_TRACKING_URI`` -> ``tracking_uri`` [SQLite in the state folder]: runs and registry.
* ``HIT_COMPASS_SHARED_DATA`` -> ``shared_data`` [none]: the folder holding a spec's data file
  when the clone does not sit beside ``shared/``.
* ``HIT_COMPASS_MODEL`` -> ``model_tag`` [hit-compass:latest]: the store tag the service loads.
* ``HIT_COMPASS_HOST`` -> ``host`` [127.0.0.1]: the service's bind address.
* ``HIT_COMPASS_WORKERS`` -> ``workers`` [1]: the service's worker processes; every one serves
  the published model (``scoring.served``).
* ``HIT_COMPASS_API_KEY`` -> ``api_key`` [none: open]: the key every scoring and admin route
  then needs.
* ``HIT_COMPASS_MAX_BODY_BYTES`` -> ``max_body_bytes`` [8 MiB]: larger request bodies get 413.
* ``HIT_COMPASS_MAX_BATCH`` -> ``max_batch`` [10,000]: more concepts in one request get 413.
* ``HIT_COMPASS_DB_URL`` -> ``db_url`` [none: SQLite in the state folder]: a
  ``postgresql://user:password@host:port/database`` URL; the prediction log and the outcomes
  then live in that PostgreSQL database, shared by every replica and machine pointed at it.
* ``HIT_COMPASS_LOG_SYNC`` -> ``log_sync`` [NORMAL]: FULL makes a SQLite prediction log survive
  power loss too (an fsync per request).
* ``HIT_COMPASS_ACCESS_LOG`` -> ``access_log`` [on]: BentoML's access line per request.
* ``HIT_COMPASS_TRACING`` -> ``tracing`` [off]: OpenTelemetry spans (a fifth to a third of
  /score's throughput; ``compass bench serve`` measures it).
* ``HIT_COMPASS_URL`` -> ``service_url`` [http://127.0.0.1:3000]: the running service
  ``compass export`` asks to reload.
* ``HIT_COMPASS_VERBOSE`` -> ``verbose`` [off]: ``compass`` shows the libraries' warnings, INFO
  lines and output on the console instead of writing them to a log file in the state folder
  (``compass --verbose`` sets it; ``core.console``).

On/off switches take 1/0, true/false, yes/no or on/off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO_ROOT = Path(__file__).resolve().parents[1]
_FLAGS_ON, _FLAGS_OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(ValueError):
    """An environment variable holds a value Hit Compass cannot use; the message names it."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: Path = Field(REPO_ROOT / "state", description="HIT_COMPASS_STATE")
    tracking_uri: str | None = Field(None, description="MLFLOW_TRACKING_URI")
    shared_data: Path | None = Field(None, description="HIT_COMPASS_SHARED_DATA")
    model_tag: str = Field("hit-compass:latest", description="HIT_COMPASS_MODEL")
    host: str = Field("127.0.0.1", description="HIT_COMPASS_HOST")
    workers: int = Field(1, gt=0, description="HIT_COMPASS_WORKERS")
    api_key: str | None = Field(None, description="HIT_COMPASS_API_KEY")
    max_body_bytes: int = Field(8 * 1024 * 1024, gt=0, description="HIT_COMPASS_MAX_BODY_BYTES")
    max_batch: int = Field(10_000, gt=0, description="HIT_COMPASS_MAX_BATCH")
    db_url: str | None = Field(None, description="HIT_COMPASS_DB_URL")
    log_sync: Literal["NORMAL", "FULL"] = Field("NORMAL", description="HIT_COMPASS_LOG_SYNC")
    access_log: bool = Field(True, description="HIT_COMPASS_ACCESS_LOG")
    tracing: bool = Field(False, description="HIT_COMPASS_TRACING")
    service_url: str = Field("http://127.0.0.1:3000", description="HIT_COMPASS_URL")
    verbose: bool = Field(False, description="HIT_COMPASS_VERBOSE")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (default ``os.environ``) asks for; unset or empty
        variables keep their defaults."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            var = str(field.description)
            raw = env.get(var, "").strip()
            if raw:
                values[name] = _parse(var, field.annotation, raw)
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            var = str(cls.model_fields[str(err["loc"][0])].description)
            raise SettingsError(f"{var}: {err['msg']}") from None

    @property
    def mlflow_uri(self) -> str:
        """The tracking (and registry) store: ``MLFLOW_TRACKING_URI``, else SQLite in the state
        folder."""
        return self.tracking_uri or f"sqlite:///{self.state_dir / 'mlflow.db'}"


def _parse(var: str, annotation: object, raw: str) -> object:
    if annotation is bool:
        low = raw.lower()
        if low not in _FLAGS_ON + _FLAGS_OFF:
            raise SettingsError(f"{var} must be 1 or 0 (true/false, yes/no, on/off), not {raw!r}")
        return low in _FLAGS_ON
    if annotation is int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a positive integer, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{var} must be a positive integer, got {value}")
        return value
    if annotation == Path or annotation == Path | None:
        return Path(raw).resolve()
    if var == "HIT_COMPASS_DB_URL" and not raw.startswith(("postgresql://", "postgres://")):
        # SQLite needs no URL (the state folder holds it): anything else is a mistake
        raise SettingsError(f"{var} must be a postgresql:// URL, not {raw.split('://')[0]!r}")
    if var == "HIT_COMPASS_LOG_SYNC":
        if raw.upper() not in ("NORMAL", "FULL"):
            raise SettingsError(f"{var} must be NORMAL or FULL, not {raw!r}")
        return raw.upper()
    return raw


def settings() -> Settings:
    """The current environment's settings (read now: tests and commands may change it)."""
    return Settings.from_env()


def set_verbose() -> None:
    """``compass --verbose``: the setting on, for this process and the processes it starts."""
    os.environ[str(Settings.model_fields["verbose"].description)] = "1"


def state_dir() -> Path:
    """The state folder, created if missing."""
    path = settings().state_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def monitor_summary_path(model_name: str) -> Path:
    """Where ``compass monitor`` leaves a registered model's latest summary and the service reads
    it (``GET /monitor``): ``<state folder>/monitor/<model name>.json``."""
    return settings().state_dir / "monitor" / f"{model_name}.json"
