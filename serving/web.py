"""The product-team web page at ``/ui``: static files from ``serving/ui`` plus the schema.

Plain HTML/JS with hand-drawn SVG charts, nothing fetched from a CDN. ``meta.json`` is the
served model's concept schema (``features.schema.ConceptSchema.describe``): the page builds its
form, its segment chart and its what-if picker from it, so it follows whatever spec is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

UI_DIR = Path(__file__).with_name("ui")


def docs_app() -> Starlette:
    """``/docs``: BentoML shows its Swagger UI at ``/``; send people who look for it there."""

    async def to_root(_: Request) -> RedirectResponse:
        return RedirectResponse("/")

    return Starlette(routes=[Route("/", to_root)])


def ui_app(schema: dict[str, Any]) -> Starlette:
    """The page for a service whose concept schema is ``schema`` (its ``describe()``)."""

    async def meta(_: Request) -> JSONResponse:
        return JSONResponse(schema)

    return Starlette(
        routes=[
            Route("/meta.json", meta),
            Mount("/", StaticFiles(directory=UI_DIR, html=True)),
        ]
    )
