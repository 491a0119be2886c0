"""The request timeout that replaces BentoML's: same answers, no timer left behind."""

from __future__ import annotations

import asyncio
import json

from serving.timeout import RequestTimeout, bentoml_timeout_middleware

SCOPE = {"type": "http", "method": "POST", "path": "/score", "headers": []}


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def _call(app, timeout: float, middleware: type = RequestTimeout) -> tuple[list[dict], int]:
    """Run one request through RequestTimeout; (messages sent, live timers left after it)."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def main() -> int:
        await middleware(app, timeout)(SCOPE, _receive, send)
        loop = asyncio.get_running_loop()
        return sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]

    return sent, asyncio.run(main())


async def _quick(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_an_answered_request_leaves_no_timer() -> None:
    sent, live = _call(_quick, timeout=60)
    assert sent[0]["status"] == 200
    assert live == 0  # BentoML's own middleware leaves one per request, for `timeout` seconds


def test_no_answer_in_time_is_a_504_that_says_so() -> None:
    async def stuck(scope, receive, send) -> None:
        await asyncio.sleep(10)

    sent, _ = _call(stuck, timeout=0.05)
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"]) == {"error": "not answered within 0.05 seconds"}


def test_an_answer_already_started_may_finish() -> None:
    async def slow_body(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b"done"})

    sent, _ = _call(slow_body, timeout=0.02)
    assert [m.get("status") for m in sent] == [200, None] and sent[1]["body"] == b"done"


def test_the_app_bentoml_builds_holds_it_and_not_bentomls(champion: dict) -> None:
    from serving.service import HitCompass

    app = HitCompass.to_asgi()
    classes = [m.cls for m in app.user_middleware]
    assert RequestTimeout in classes
    assert bentoml_timeout_middleware() not in classes


def test_bentomls_own_timeout_still_leaks_a_timer() -> None:
    """The reason serving/timeout.py exists. If this fails, BentoML fixed it: drop ours."""
    _, live = _call(_quick, timeout=60, middleware=bentoml_timeout_middleware())
    assert live == 1
