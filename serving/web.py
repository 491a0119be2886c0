"""The product-team web page at ``/ui``: static files from ``serving/ui`` plus the schema; and
``GET /monitor``, the latest ``compass monitor`` summary of the served model.

Plain HTML/JS with hand-drawn SVG charts, nothing fetched from a CDN. ``meta.json`` is the
served model's concept schema (``features.schema.ConceptSchema.describe``): the page builds its
form, its segment chart and its what-if picker from it, so it follows whatever spec is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
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


def monitor_app(model_name: str, summary: Path) -> Starlette:
    """``GET /monitor``: the summary ``compass monitor`` last left at ``summary`` for
    ``model_name``, as written; 404 naming the command until there is one. Mounted at the
    root: BentoML's mounts only take the paths their routes match, and a mount at ``/monitor``
    would answer ``/monitor`` itself with a redirect."""

    async def latest(_: Request) -> Response:
        try:
            body = summary.read_bytes()
        except FileNotFoundError:
            return JSONResponse(
                {
                    "error": f"no monitor summary of {model_name} yet: run "
                    f"`compass monitor --model {model_name}`"
                },
                status_code=404,
            )
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/monitor", latest, methods=["GET"])])
