"""ASGI guard in front of every route: optional API key and a request-body size limit.

Settings (``core.settings``):

* ``HIT_COMPASS_API_KEY`` (optional): when set, every route except the health/metrics probes
  (and GETs of the static web page under ``/ui``) needs ``X-API-Key: <key>`` or
  ``Authorization: Bearer <key>``; a missing or wrong key gets 401.
  Keys are compared with :func:`hmac.compare_digest` (constant time).
* ``HIT_COMPASS_MAX_BODY_BYTES`` (default 8 MiB): a larger body gets 413 naming the limit. A
  declared ``Content-Length`` is checked before a byte of the body is read; a chunked body is
  buffered only up to the limit, so an oversized upload never reaches JSON parsing or validation.

Both are pure ASGI (no request object, no body parsing), so the guard adds microseconds, not
milliseconds, to the hot path. Error bodies never echo request content.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import BeforeValidator

from core.settings import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Probes stay open so orchestrators and monitoring need no secret.
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
# The web page's static files (HTML/JS/CSS and the dropdown choices) hold no data; a browser
# cannot send a header when it opens a page, and the page sends the key with every POST.
OPEN_GET_PREFIX = "/ui"


def is_open(method: str, path: str) -> bool:
    """True for the routes that never need the API key."""
    if path in OPEN_PATHS:
        return True
    static = path == OPEN_GET_PREFIX or path.startswith(OPEN_GET_PREFIX + "/")
    return static and method in ("GET", "HEAD")


class BatchTooLarge(BentoMLException):
    """More concepts in one request than ``HIT_COMPASS_MAX_BATCH`` allows (HTTP 413)."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def batch_limit(max_items: int) -> BeforeValidator:
    """Annotation for a list parameter: reject an over-long list before validating any item.

    pydantic's own ``max_length`` only fires after every item was validated (10,001 concepts:
    ~0.1 s of work for a request that will be refused); this looks at the raw JSON array first.
    The exception is not a ``ValueError``, so pydantic lets it through and BentoML answers 413.
    """

    def check(value: Any) -> Any:
        if isinstance(value, list) and len(value) > max_items:
            raise BatchTooLarge(
                f"{len(value)} items in one request; the limit is {max_items} "
                "(HIT_COMPASS_MAX_BATCH)"
            )
        return value

    return BeforeValidator(check)


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key a client presented, from ``X-API-Key`` or ``Authorization: Bearer``."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1  # malformed: treated as a bad request
    return None


async def send_json(send: Send, status: int, body: dict[str, Any], extra=()) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """API-key and body-size middleware; see the module docstring for the settings."""

    def __init__(
        self, app: ASGIApp, api_key: str | None = None, max_body_bytes: int | None = None
    ) -> None:
        self.app = app
        current = settings()
        key = api_key if api_key is not None else current.api_key
        self.api_key = key.encode() if key else None
        self.max_body_bytes = max_body_bytes or current.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if self.api_key is not None and not is_open(scope.get("method", ""), scope["path"]):
            key = presented_key(headers)
            if key is None or not hmac.compare_digest(key, self.api_key):
                await send_json(
                    send,
                    401,
                    {"error": "missing or invalid API key (send X-API-Key or Bearer token)"},
                    [(b"www-authenticate", b'Bearer realm="hit-compass"')],
                )
                return
        length = declared_length(headers)
        if length is not None and length < 0:
            await send_json(send, 400, {"error": "Content-Length header is not an integer"})
            return
        if length is not None and length > self.max_body_bytes:
            await self.too_large(send)
            return
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            body = await self.read_capped(receive)
            if body is None:
                await self.too_large(send)
                return
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    async def too_large(self, send: Send) -> None:
        await send_json(
            send,
            413,
            {
                "error": f"request body exceeds the limit of {self.max_body_bytes} bytes "
                "(HIT_COMPASS_MAX_BODY_BYTES)",
                "limit_bytes": self.max_body_bytes,
            },
        )

    async def read_capped(self, receive: Receive) -> bytes | None:
        """The whole body of a chunked request, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # client went away; the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields the buffered body once, then defers to the server."""
    sent = False

    async def inner() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner
