"""The request timeout (``traffic.timeout``), without BentoML 1.4's timer leak.

BentoML's ``TimeoutMiddleware`` arms ``loop.call_later(timeout, ...)`` for every request and
never cancels it, so each answered request leaves a timer in the event loop for ``timeout``
seconds, holding the request's context (its OpenTelemetry span and more, ~20 objects). At a few
hundred requests a second that is hundreds of thousands of live objects: resident memory climbs
for a minute, and every full garbage collection walks them all. Measured here: collections grew
to 100+ ms and stalled requests behind them.

:class:`RequestTimeout` keeps BentoML's behaviour (504 if the app has not started answering
within ``timeout`` seconds; once it has, it may finish) with ``asyncio.timeout``, whose timer is
cancelled as soon as the request ends. :func:`install` makes BentoML build it in place of its
own; it must run before the service's ASGI app is built (``serving.service`` calls it on import).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.guard import send_json


class RequestTimeout:
    """ASGI middleware with the constructor BentoML uses: ``RequestTimeout(app, timeout)``."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.timeout(self.timeout)
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            if not started:
                started = True
                deadline.reschedule(None)  # answering: let it finish, as BentoML does
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_started)
        except TimeoutError:
            if started or not deadline.expired():
                raise  # not ours
            await send_json(send, 504, {"error": f"not answered within {self.timeout:g} seconds"})


_BENTOML_ORIGINAL: dict[str, type] = {}  # BentoML's class, once install() replaced it


def bentoml_timeout_middleware() -> type:
    """BentoML's own timeout middleware class (kept so a test can watch whether it still leaks:
    if BentoML fixes it, this module can go)."""
    from bentoml._internal.server.http import traffic

    return _BENTOML_ORIGINAL.get("cls", traffic.TimeoutMiddleware)


def install() -> None:
    """Make BentoML's app factory use :class:`RequestTimeout` for ``traffic.timeout`` (its
    ``middlewares`` property imports the class from this module attribute when it builds the
    app; a test checks the built app really holds ours)."""
    from bentoml._internal.server.http import traffic

    _BENTOML_ORIGINAL.setdefault("cls", traffic.TimeoutMiddleware)
    traffic.TimeoutMiddleware = RequestTimeout  # type: ignore[misc,assignment]
