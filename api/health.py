"""Liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, json_response
from core.schemas import Health, Readiness

router = Router()


@router.route("GET", "/healthz", summary="Process alive", tag="health", roles=None, response=Health)
async def healthz(request: web.Request) -> web.StreamResponse:
    """Always 200 while the process serves requests."""
    return json_response({"status": "ok"})


@router.route("GET", "/readyz", summary="Dependencies ready", tag="health", roles=None, response=Readiness,
              also=(503,))
async def readyz(request: web.Request) -> web.StreamResponse:
    """Database and AMI state (and recordings, storage, probe when enabled) as JSON; 503 when not ready."""
    c = request.app[CONTAINER]
    db = await c.db.ping()
    pbx = c.pbx.state()
    checks: dict[str, object] = {"database": db, "pbx": pbx}
    for name, probe in c.readiness.items():
        checks[name] = await probe()
    ready = bool(db.get("ok")) and all(
        bool(s.get("connected")) for s in pbx.values() if isinstance(s, dict)
    ) and all(bool(v.get("ok", True)) for k, v in checks.items()
              if k not in ("database", "pbx") and isinstance(v, dict))
    return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
