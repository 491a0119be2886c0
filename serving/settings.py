"""How the service runs on BentoML: its server settings and on/off switches.

Shared with the benchmark's no-op service (``training/bench_serve.py``), so the floor the
service is measured against runs on the same framework path.

* ``HIT_COMPASS_HOST`` (default 127.0.0.1): the bind address; another host only when asked.
* ``HIT_COMPASS_ACCESS_LOG`` (default on): BentoML's access line per request.
* ``HIT_COMPASS_TRACING`` (default off): OpenTelemetry spans. BentoML builds them for every
  request but samples none unless tracing is configured, and they cost a fifth to a third of
  /score's throughput (``compass bench serve`` measures it); switch on together with BentoML's
  tracing settings (exporter, sample rate).
"""

from __future__ import annotations

import os
from typing import Any

from serving.timeout import install as install_request_timeout


def env_flag(name: str, default: bool) -> bool:
    """An on/off environment switch; anything but 1/0 (true/false, yes/no, on/off) is refused."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw in ("1", "true", "yes", "on")
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {raw!r}")


def bentoml_settings() -> dict[str, Any]:
    """Keyword arguments for ``@bentoml.service``, read from the environment.

    Also puts :class:`serving.timeout.RequestTimeout` in place of BentoML's leaking timeout
    middleware, which must happen before BentoML builds the app: call it at import time."""
    install_request_timeout()
    tracing = env_flag("HIT_COMPASS_TRACING", default=False)
    return {
        "http": {"host": os.environ.get("HIT_COMPASS_HOST", "127.0.0.1"), "port": 3000},
        "traffic": {"timeout": 60},
        "logging": {"access": {"enabled": env_flag("HIT_COMPASS_ACCESS_LOG", default=True)}},
        **({} if tracing else {"tracing": {"excluded_urls": [".*"]}}),
        "workers": 1,
    }
