"""Edge middleware: the one error shape, the request rate limit, authentication (bearer token, ticket or session
cookie with its CSRF token), and a body-size limit."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from api.keys import CONTAINER, RATE_LIMITER
from api.routing import PRINCIPAL, error_response
from auth.errors import CsrfTokenInvalid, QueryTokenRefused, TooManyFailedSignIns
from auth.service import SESSION_KIND
from auth.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_ok
from core.errors import CallguardError, NotFound, Unauthorized, UpstreamUnavailable
from core.ratelimit import RateLimited

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/v1/openapi.json", "/metrics", "/docs"})
# monitoring must see an instance under load: never rate-limited
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# EventSource cannot send headers: the live stream also takes a short-lived single-use ticket in the query
# string (POST /v1/events/tickets); a long-lived token is never accepted there.
TICKET_PATHS = frozenset({"/v1/events"})
# the console's page and assets (api/console.py), and signing in
CONSOLE_PREFIX = "/console/"
PUBLIC_ROUTES = frozenset({("GET", "/"), ("HEAD", "/"), ("POST", "/v1/session")})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        retry_after = getattr(err, "retry_after_s", None)
        return error_response(request, err, headers={"Retry-After": str(retry_after)} if retry_after else None)
    except web.HTTPRequestEntityTooLarge:
        container = request.app.get(CONTAINER)  # its client_max_size is the bulk limit (api.app)
        return error_response(request, CallguardError(
            "the request body is too large", code="body-too-large", status=413,
            details={"max_bytes": container.settings.server.max_bulk_body_bytes} if container else {},
        ))
    except web.HTTPNotFound:
        return error_response(request, NotFound(f"no route {request.path}", code="no-such-route"))
    except web.HTTPMethodNotAllowed as exc:
        return error_response(request, CallguardError(
            f"{request.method} is not allowed here", code="method-not-allowed", status=405,
            details={"allowed": sorted(exc.allowed_methods)}), headers={"Allow": ",".join(exc.allowed_methods)})
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - the edge turns any bug into a 500 with the one shape
        if _already_streaming(request, exc):
            raise
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(request, CallguardError())


def _already_streaming(request: web.Request, exc: Exception) -> bool:
    """True (and logged) if part of the response was sent before ``exc``: it can only be aborted."""
    if request.writer.output_size == 0:
        return False
    log.warning("%s %s failed after the response began; aborting it: %r", request.method, request.path, exc)
    return True


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requests per credential (the bearer token, else the client address), before any work is done for them.

    Over the limit: 429 ``rate-limited`` with Retry-After. The buckets are this instance's (core/ratelimit.py).
    """
    if request.path in UNLIMITED_PATHS:
        return await handler(request)
    try:
        request.app[RATE_LIMITER].check(credential_key(request))
    except RateLimited as err:
        return error_response(request, err, headers={"Retry-After": str(err.retry_after_s)})
    return await handler(request)


def credential_key(request: web.Request) -> str:
    """Whose bucket a request takes from: its bearer token's or console session's (hashed: no secret kept), else
    its address's (an office behind one NAT address shares that bucket only before its people sign in)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "token:" + hashlib.sha256(value.strip()[:512].encode()).hexdigest()[:32]  # 128 bits: no collision
    if session := request.cookies.get(SESSION_COOKIE, "").strip():
        return "session:" + hashlib.sha256(session[:512].encode()).hexdigest()[:32]
    return f"address:{request.remote or 'unknown'}"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the bearer token (or, for the event stream, a ticket) to a principal for every non-public path.

    Failures are recorded and throttled per client address (``auth.service.Authenticator``); a locked-out
    address gets 429 ``too-many-failed-sign-ins`` with Retry-After.
    """
    if (request.path in PUBLIC_PATHS or request.path.startswith(("/docs/", CONSOLE_PREFIX))
            or request.method == "OPTIONS" or (request.method, request.path) in PUBLIC_ROUTES):
        return await handler(request)
    authenticator = request.app[CONTAINER].auth
    address = request.remote or "unknown"
    header = request.headers.get("Authorization", "")
    try:
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthorized("use 'Authorization: Bearer <token>'")
            request[PRINCIPAL] = await authenticator.authenticate(value.strip()[:512], address=address)
        elif session := request.cookies.get(SESSION_COOKIE):
            request[PRINCIPAL] = await authenticator.authenticate(session[:512], address=address, kind=SESSION_KIND)
            # the browser sends the cookie on another site's request too; only our page knows the CSRF token
            if request.method not in SAFE_METHODS and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
                raise CsrfTokenInvalid(f"a request made with the session cookie needs its {CSRF_HEADER} header "
                                       "(the csrf_token of GET /v1/session)")
        elif request.path in TICKET_PATHS and request.method == "GET" and request.query.get("ticket"):
            request[PRINCIPAL] = await authenticator.redeem_ticket(request.query["ticket"][:512], address=address)
        elif "access_token" in request.query:
            raise QueryTokenRefused("a token is not accepted in the query string; use the Authorization header, "
                                    "or a ticket from POST /v1/events/tickets for EventSource")
        else:
            raise Unauthorized("a bearer token is required")
    except TooManyFailedSignIns as err:
        return error_response(request, err, headers={"Retry-After": str(err.retry_after_s)})
    return await handler(request)
