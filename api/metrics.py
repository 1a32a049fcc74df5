"""``GET /metrics``: Prometheus text format, for the monitoring system's scrape token or a global admin."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, error_response
from auth.errors import TooManyFailedSignIns
from core.errors import Unauthorized
from metrics.errors import MetricsForbidden
from metrics.service import CONTENT_TYPE

router = Router()


@router.route("GET", "/metrics", summary="Prometheus metrics", tag="health", roles=None, errors=(401, 403, 429, 503),
              content_type="text/plain")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Every metric of this instance (and the shared database state) in the Prometheus text format.

    ``Authorization: Bearer <metrics.token>`` (the monitoring system's), or a global admin's token; any other
    token is 403 ``metrics-forbidden`` (the numbers are the whole platform's, across every bank). Labels carry
    no personal data and no client names (docs/OPERATIONS.md lists every metric). Never rate-limited.
    """
    c = request.app[CONTAINER]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = value.strip()[:512] if scheme.lower() == "bearer" else ""
    if not token:
        raise Unauthorized("a bearer token is required: the scrape token (metrics.token) or a global admin's")
    if not c.metrics.scrape_token_matches(token):
        try:
            caller = await c.auth.authenticate(token, address=request.remote or "unknown")
        except TooManyFailedSignIns as err:
            return error_response(request, err, headers={"Retry-After": str(err.retry_after_s)})
        if not caller.is_global:
            raise MetricsForbidden("only the scrape token (metrics.token) or a global admin's token may read "
                                   "the metrics", details={"role": str(caller.role)})
    return web.Response(body=await c.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
