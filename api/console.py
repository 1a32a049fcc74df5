"""The console at ``/``: the service serves its own front end (same origin, no CDN, works offline).

The assets are built from pinned npm packages by ``make web`` into ``web/dist/console`` (``web/build.mjs``). The
console is a client of the public API like any other (the session cookie, ``/v1/...``); its
Content-Security-Policy forbids every other origin and inline scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from core.errors import NotFound

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "web" / "dist" / "console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_ASSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _file(root: Path, name: str) -> web.StreamResponse:
    path = root / name
    if not _ASSET.match(name) or not path.is_file():
        if not (root / "index.html").is_file():
            raise NotFound("the console is not built: run 'make web'", code="console-not-built")
        raise NotFound(f"no file {name} in the console", code="no-such-route")
    return web.FileResponse(path, headers={
        "Content-Type": f"{_TYPES.get(path.suffix, 'text/plain')}; charset=utf-8",
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"})


def add_console_routes(app: web.Application, root: Path = CONSOLE_DIR) -> None:
    """Serve ``/`` (the page) and ``/console/{name}`` (its script and stylesheet) from ``root``."""

    async def page(_request: web.Request) -> web.StreamResponse:
        return _file(root, "index.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        return _file(root, request.match_info["name"])

    app.router.add_get("/", page)
    app.router.add_get("/console/{name}", asset)
