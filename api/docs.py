"""The browsable API reference at ``/docs``: Swagger UI over ``/v1/openapi.json``, served by the service itself.

The assets are built from pinned npm packages by ``make web`` into ``web/dist/docs``; the page loads nothing
from another host, and its Content-Security-Policy forbids every other origin.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from core.errors import NotFound

DOCS_DIR = Path(__file__).resolve().parents[1] / "web" / "dist" / "docs"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_ASSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _file(root: Path, name: str) -> web.StreamResponse:
    path = root / name
    if not _ASSET.match(name) or not path.is_file():
        if not (root / "index.html").is_file():
            raise NotFound("the API reference is not built: run 'make web'", code="docs-not-built")
        raise NotFound(f"no file {name} in the API reference", code="no-such-route")
    return web.FileResponse(path, headers={
        "Content-Type": f"{_TYPES.get(path.suffix, 'text/plain')}; charset=utf-8",
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


def add_docs_routes(app: web.Application, root: Path = DOCS_DIR) -> None:
    """Serve ``/docs`` (the page) and ``/docs/{name}`` (its assets) from ``root``."""

    async def page(_request: web.Request) -> web.StreamResponse:
        return _file(root, "index.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        return _file(root, request.match_info["name"])

    app.router.add_get("/docs", page)
    app.router.add_get("/docs/{name}", asset)
