"""``/dashboard/``: the web dashboard, three static files served as they are (no build step).

Role in the loop (interfaces): the people's window on the loop. The page itself holds no data
and needs no token; its script asks for a token and reads ``/api/v1`` with it
(``operator_routes``), polling every two seconds for live updates. ``/`` redirects here.
The files ship inside the package (``interfaces/api/static``); the page loads nothing from
anywhere else (a strict Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

from pathlib import Path

import fastapi
from fastapi import responses

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def router() -> fastapi.APIRouter:
    """The dashboard's routes."""
    api = fastapi.APIRouter(include_in_schema=False)

    @api.get("/")
    async def root() -> responses.RedirectResponse:
        return responses.RedirectResponse("/dashboard/", status_code=307)

    @api.get("/dashboard")
    async def bare() -> responses.RedirectResponse:
        return responses.RedirectResponse("/dashboard/", status_code=307)

    @api.get("/dashboard/{name:path}")
    async def static(name: str) -> responses.Response:
        found = _FILES.get(name)
        if found is None:
            return responses.JSONResponse({"error": "not found"}, status_code=404)
        filename, media = found
        return responses.Response(
            (STATIC_DIR / filename).read_bytes(), media_type=media, headers=_HEADERS
        )

    return api
