"""``/readyz`` says which model answered: BentoML's probe answers an empty line; this middleware
replaces a ready answer's body by what the worker that took the probe serves (JSON).

The service instance is taken when the app finishes starting (BentoML creates it then), so each
app answers for its own instance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bentoml

from serving.guard import ASGIApp, Message, Receive, Scope, Send, send_json

PATH = "/readyz"


class ReadyAnswer:
    """``describe(service_instance)`` -> the JSON body of a 200 from ``/readyz``."""

    def __init__(self, app: ASGIApp, describe: Callable[[Any], dict[str, Any]]) -> None:
        self.app, self.describe = app, describe
        self.instance: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._on_started(send))
        elif scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            await self.app(scope, receive, self._ready_body(send))
        else:
            await self.app(scope, receive, send)

    def _on_started(self, send: Send) -> Send:
        async def inner(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.instance = bentoml.get_current_service()
            await send(message)

        return inner

    def _ready_body(self, send: Send) -> Send:
        status: int | None = None

        async def inner(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if status != 200 or self.instance is None:
                await send(message)  # not ready (or not started): BentoML's own answer
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await send_json(send, 200, self.describe(self.instance))

        return inner
