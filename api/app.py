"""The aiohttp application: middleware, routes, OpenAPI."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from api import (
    approvals,
    audit,
    auth,
    callbacks,
    calls,
    campaigns,
    cases,
    clients,
    compliance,
    events,
    health,
    hooks,
    metrics,
    monitor,
    payments,
    presence,
    recordings,
    reports,
    session,
    transfers,
)
from api.access import request_id_middleware, send_request_id
from api.console import add_console_routes
from api.docs import add_docs_routes
from api.keys import CONTAINER, RATE_LIMITER
from api.middleware import auth_middleware, errors_middleware, rate_limit_middleware
from api.openapi import build_spec
from api.proxy import forwarded_middleware
from api.routing import Router, RouteSpec, json_response
from app.container import Container
from callbacks import events as callback_events
from campaigns import events as campaign_events
from cases import events as case_events
from core.ratelimit import RateLimiter
from dialer import events as dialer_events
from inbound import events as inbound_events
from monitor import events as monitor_events
from payments import events as payment_events
from presence import events as presence_events
from recordings import events as recording_events

VERSION = "0.1.0"


def all_routers() -> list[Router]:
    """Every feature's router (the order is the OpenAPI order)."""
    return [health.router, calls.router, events.router, compliance.router, cases.router, clients.router, hooks.router,
            recordings.router, reports.router, auth.router, audit.router, approvals.router, presence.router,
            callbacks.router, campaigns.router, payments.router, session.router, metrics.router,
            monitor.router, transfers.router]


def all_routes() -> list[RouteSpec]:
    """Every declared route."""
    return [r for router in all_routers() for r in router.routes]


def event_data() -> dict[str, type[BaseModel]]:
    """Every domain event type the live stream and webhooks carry, and the model of its ``data``."""
    return {**dialer_events.DATA, **inbound_events.DATA, **case_events.DATA, **recording_events.DATA,
            **presence_events.DATA, **callback_events.DATA, **campaign_events.DATA, **payment_events.DATA,
            **monitor_events.DATA}


def event_types() -> tuple[str, ...]:
    """Every domain event type the live stream and webhooks carry."""
    return tuple(event_data())


def make_app(container: Container, *, limiter: RateLimiter | None = None) -> web.Application:
    """Build the web application around an already-composed container.

    ``limiter``: the request rate limit of this instance (default: from ``[auth]`` settings).
    """
    proxies = container.settings.server.trusted_proxies
    app = web.Application(
        middlewares=[*([forwarded_middleware(proxies)] if proxies else []), request_id_middleware,
                     errors_middleware, rate_limit_middleware, auth_middleware],
        client_max_size=container.settings.server.max_bulk_body_bytes,
    )
    app[CONTAINER] = container
    app.on_response_prepare.append(send_request_id)
    auth = container.settings.auth
    if limiter is None:
        limiter = RateLimiter(auth.requests_per_s, auth.request_burst, max_buckets=auth.rate_limit_buckets)
    app[RATE_LIMITER] = limiter
    for router in all_routers():
        router.install(app)
    spec = build_spec(all_routes(), version=VERSION, event_data=event_data())

    async def openapi(_request: web.Request) -> web.StreamResponse:
        return json_response(spec)

    app.router.add_get("/v1/openapi.json", openapi)
    add_docs_routes(app)
    add_console_routes(app)

    async def end_streams(_app: web.Application) -> None:
        # open event streams (a console left open) end now rather than hold the shutdown for its timeout
        container.stream.close()

    app.on_shutdown.append(end_streams)
    return app
