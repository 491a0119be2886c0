"""The product-team web page at ``/ui``: static files from ``serving/ui`` plus the form's choices.

Plain HTML/JS with hand-drawn SVG charts, nothing fetched from a CDN. ``meta.json`` gives the
dropdowns their values from ``features.domain`` so the page never drifts from the schema.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from features.domain import BRAND_TIERS, CATEGORIES, SEGMENTS
from features.schema import EXAMPLE_CONCEPT

UI_DIR = Path(__file__).with_name("ui")


async def meta(_: Request) -> JSONResponse:
    return JSONResponse(
        {
            "categories": list(CATEGORIES),
            "segments": list(SEGMENTS),
            "brand_tiers": list(BRAND_TIERS),
            "example": EXAMPLE_CONCEPT,
        }
    )


def ui_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/meta.json", meta),
            Mount("/", StaticFiles(directory=UI_DIR, html=True)),
        ]
    )
