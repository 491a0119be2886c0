"""How the service runs on BentoML: its server settings.

Shared with the benchmark's no-op service (``benchmarks/serve.py``), so the floor the service is
measured against runs on the same framework path. The switches come from ``core.settings``
(``HIT_COMPASS_HOST``, ``HIT_COMPASS_WORKERS``, ``HIT_COMPASS_ACCESS_LOG``,
``HIT_COMPASS_TRACING``). OpenTelemetry spans
are off by default: BentoML builds them for every request but samples none unless tracing is
configured, and they cost a fifth to a third of /score's throughput (``compass bench serve``
measures it); switch them on together with BentoML's tracing settings (exporter, sample rate).
"""

from __future__ import annotations

from typing import Any

from core.settings import settings
from serving.timeout import install as install_request_timeout


def bentoml_settings() -> dict[str, Any]:
    """Keyword arguments for ``@bentoml.service``, from the settings.

    Also puts :class:`serving.timeout.RequestTimeout` in place of BentoML's leaking timeout
    middleware, which must happen before BentoML builds the app: call it at import time."""
    install_request_timeout()
    current = settings()
    return {
        "http": {"host": current.host, "port": 3000},
        "traffic": {"timeout": 60},
        "logging": {"access": {"enabled": current.access_log}},
        **({} if current.tracing else {"tracing": {"excluded_urls": [".*"]}}),
        "workers": current.workers,
    }
