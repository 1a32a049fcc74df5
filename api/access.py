"""Every request's id (``X-Request-Id``, in its log lines and its answer) and the HTTP access log.

The request id is the caller's ``X-Request-Id`` when it is sane (``core.logs.request_id_from``), else a new one;
it is set as the logging context for the whole handling of the request, written to the audit trail, and sent
back in the ``X-Request-Id`` header of every answer (errors and streams too). The access log has one line a
request: method, the path without its query string (tickets travel there), status, duration and the request id;
never a header (Authorization, Cookie, X-CSRF-Token) or a body.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from api.routing import Handler
from core.logs import ACCESS_LOGGER, REQUEST_ID, request_id_from

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request's id, as logging context while it is handled (then reset: a keep-alive connection's next
    request is another one)."""
    rid = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID_KEY] = rid
    token = REQUEST_ID.set(rid)
    try:
        return await handler(request)
    finally:
        REQUEST_ID.reset(token)


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the request id in every answer's headers, before its first byte."""
    rid = request.get(REQUEST_ID_KEY)
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid


def request_id(request: web.Request) -> str | None:
    """The request's id (sanitised; None only outside the middleware)."""
    return request.get(REQUEST_ID_KEY)


class AccessLogger(AbstractAccessLogger):
    """One line per request in the logger ``callguard.access`` (``http`` carries the fields in JSON logs)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Method, path (no query string), status, duration in ms and the request id."""
        path = request.rel_url.raw_path  # percent-encoded: no line break or control character gets through
        ms = round(time * 1000, 1)
        fields = {"method": request.method, "path": path, "status": response.status, "duration_ms": ms,
                  "remote": request.remote}
        self.logger.info("%s %s %s %.1f ms", request.method, path, response.status, ms,
                         extra={"http": fields, "request_id": request.get(REQUEST_ID_KEY)})

    @property
    def enabled(self) -> bool:
        """Whether a line would be written at all."""
        return self.logger.isEnabledFor(logging.INFO)


def runner_options(*, access_log: bool) -> dict[str, Any]:
    """``web.AppRunner`` (or ``TestServer``) keyword arguments: our access log, or none."""
    return {"access_log": logging.getLogger(ACCESS_LOGGER) if access_log else None,
            "access_log_class": AccessLogger}
