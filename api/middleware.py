"""Edge middleware: the one error shape, authentication, and a body-size limit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from api.keys import CONTAINER
from api.routing import PRINCIPAL, error_response
from auth.service import authenticate
from core.errors import CallguardError, NotFound, Unauthorized, UpstreamUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/v1/openapi.json", "/metrics", "/docs"})
# EventSource cannot send headers, so the live stream also takes the token as a query parameter.
QUERY_TOKEN_PATHS = frozenset({"/v1/events"})


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as {"error": {"code", "message", "details"}}.

    Except once a streamed response has begun: the error is then re-raised, so that aiohttp aborts
    the connection instead of writing a JSON body into the middle of the stream.
    """
    try:
        return await handler(request)
    except CallguardError as err:
        if _already_streaming(request, err):
            raise
        if isinstance(err, UpstreamUnavailable):
            log.warning("%s %s: %s unavailable: %s", request.method, request.path, err.upstream, err.message)
        return error_response(err)
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(CallguardError(
            "the request body is too large", code="body-too-large", status=413,
            details={"max_bytes": exc.max_size} if hasattr(exc, "max_size") else {},
        ))
    except web.HTTPNotFound:
        return error_response(NotFound(f"no route {request.path}", code="no-such-route"))
    except web.HTTPMethodNotAllowed as exc:
        return error_response(CallguardError(
            f"{request.method} is not allowed here", code="method-not-allowed", status=405,
            details={"allowed": sorted(exc.allowed_methods)}), headers={"Allow": ",".join(exc.allowed_methods)})
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - the edge turns any bug into a 500 with the one shape
        if _already_streaming(request, exc):
            raise
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(CallguardError("internal error"))


def _already_streaming(request: web.Request, exc: Exception) -> bool:
    """True (and logged) if part of the response was sent before ``exc``: it can only be aborted."""
    if request.writer.output_size == 0:
        return False
    log.warning("%s %s failed after the response began; aborting it: %r", request.method, request.path, exc)
    return True


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the bearer token to a principal for every non-public path."""
    if request.path in PUBLIC_PATHS or request.path.startswith("/docs/") or request.method == "OPTIONS":
        return await handler(request)
    header = request.headers.get("Authorization", "")
    token = ""
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        token = value.strip()
    elif request.path in QUERY_TOKEN_PATHS:
        token = request.query.get("access_token", "")
    if not token:
        raise Unauthorized("a bearer token is required")
    if len(token) > 200 or not token.isascii():
        raise Unauthorized("the bearer token is unknown or revoked")
    container = request.app[CONTAINER]
    async with container.db.read() as s:
        request[PRINCIPAL] = await authenticate(s, token)
    return await handler(request)

