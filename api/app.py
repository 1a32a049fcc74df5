"""The aiohttp application: middleware, routes, OpenAPI."""

from __future__ import annotations

from aiohttp import web

from api import audit, auth, calls, cases, clients, compliance, events, health, hooks, recordings, reports
from api.keys import CONTAINER
from api.middleware import auth_middleware, errors_middleware
from api.openapi import build_spec
from api.routing import Router, RouteSpec, json_response
from app.container import Container

VERSION = "0.1.0"


def all_routers() -> list[Router]:
    """Every feature's router (the order is the OpenAPI order)."""
    return [health.router, calls.router, events.router, compliance.router, cases.router, clients.router, hooks.router,
            recordings.router, reports.router, auth.router, audit.router]


def all_routes() -> list[RouteSpec]:
    """Every declared route."""
    return [r for router in all_routers() for r in router.routes]


def make_app(container: Container) -> web.Application:
    """Build the web application around an already-composed container."""
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware],
        client_max_size=container.settings.server.max_bulk_body_bytes,
    )
    app[CONTAINER] = container
    for router in all_routers():
        router.install(app)
    spec = build_spec(all_routes(), version=VERSION)

    async def openapi(_request: web.Request) -> web.StreamResponse:
        return json_response(spec)

    app.router.add_get("/v1/openapi.json", openapi)
    return app
