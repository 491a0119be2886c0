"""A fresh in-process service app for tests that need their own instance or settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from starlette.testclient import TestClient


def drop_bentoml_metrics() -> None:
    """Unregister BentoML's Prometheus collectors so another app can register its own."""
    import prometheus_client

    reg = prometheus_client.REGISTRY
    for collector, names in list(reg._collector_to_names.items()):
        if any(n.startswith("bentoml_") for n in names):
            reg.unregister(collector)


@contextlib.contextmanager
def fresh_service(**env: str) -> Iterator[TestClient]:
    """A new in-process HitCompass app (own instance, own guard settings from ``env``).

    BentoML registers its Prometheus metrics globally on an app's first request, so a second
    app in one process would collide with the session's; its metrics are unregistered before
    and after (they are not what these tests look at)."""
    from serving.service import HitCompass

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    drop_bentoml_metrics()
    try:
        with TestClient(HitCompass.to_asgi()) as client:
            yield client
    finally:
        drop_bentoml_metrics()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
