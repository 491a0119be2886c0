from __future__ import annotations

import pytest

from features.schema import EXAMPLE_CONCEPT


@pytest.fixture(scope="session")
def client(champion: dict):
    from starlette.testclient import TestClient

    from serving.service import HitCompass

    with TestClient(HitCompass.to_asgi()) as c:
        yield c


@pytest.fixture()
def concept() -> dict:
    return dict(EXAMPLE_CONCEPT)
