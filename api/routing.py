"""Route registry: each handler declares its method, path, models and roles once.

The same declarations drive request validation, role checks and the OpenAPI 3.1 document.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.keys import CONTAINER
from auth.models import Role
from auth.service import Principal
from core.errors import BadRequest, CallguardError, ValidationFailed
from core.i18n import negotiate
from core.messages import DEFAULT_LANGUAGE, Language

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
PRINCIPAL = web.RequestKey("principal", Principal)
ALL_ROLES = tuple(Role)


@dataclass(frozen=True)
class RouteSpec:
    """One documented operation."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: tuple[Role, ...] | None  # None: no authentication
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # path parameter schemas beyond the regex
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # OpenAPI links of the success answer
    also: tuple[int, ...] = ()  # other statuses answered with the success body (201 created, 503 not ready)
    alt_types: tuple[str, ...] = ()  # other content types of the success answer (a format= query)


class Router:
    """Collects RouteSpecs; ``install`` adds them to an aiohttp app."""

    def __init__(self) -> None:
        self.routes: list[RouteSpec] = []

    def route(self, method: str, path: str, *, summary: str, tag: str,
              roles: tuple[Role, ...] | None = ALL_ROLES, body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
              status: int = 200, errors: tuple[int, ...] = (), content_type: str = "application/json",
              description: str = "", params: dict[str, dict[str, Any]] | None = None,
              links: dict[str, dict[str, Any]] | None = None,
              also: tuple[int, ...] = (), alt_types: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        """Declare a handler (``errors``: statuses beyond those the registry derives, see ``api.openapi``)."""

        def deco(fn: Handler) -> Handler:
            self.routes.append(RouteSpec(method, path, fn, summary, tag, roles, body, query, response,
                                         status, errors, content_type, description or (fn.__doc__ or ""),
                                         params=params or {}, links=links or {}, also=also,
                                         alt_types=alt_types))
            return fn

        return deco

    def install(self, app: web.Application) -> None:
        """Register every route with its role check."""
        for spec in self.routes:
            app.router.add_route(spec.method, spec.path, _guarded(spec))


def _guarded(spec: RouteSpec) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if spec.roles is not None:
            principal: Principal = request[PRINCIPAL]
            principal.require(*spec.roles)
        return await spec.handler(request)

    handler.__name__ = spec.handler.__name__
    return handler


def principal(request: web.Request) -> Principal:
    """The authenticated caller."""
    p: Principal = request[PRINCIPAL]
    return p


async def body(request: web.Request, model: type[M], *, bulk: bool = False,
               extra: dict[str, Any] | None = None) -> M:
    """The JSON body validated against ``model`` (413 too large, 400 bad JSON, 422 invalid fields).

    ``extra`` adds fields taken from elsewhere (the path), which win over the body's.
    """
    data = await json_body(request, bulk=bulk)
    if extra:
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object", code="bad-json")
        data = {**data, **extra}
    return validate(model, data)


async def json_body(request: web.Request, *, bulk: bool = False) -> Any:
    """The parsed JSON body, read up to the configured limit (413 beyond it, 400 when not JSON)."""
    server = request.app[CONTAINER].settings.server
    limit = server.max_bulk_body_bytes if bulk else server.max_body_bytes
    too_large = CallguardError("the request body is too large", code="body-too-large", status=413,
                               details={"max_bytes": limit})
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", code="bad-json") from None


def query(request: web.Request, model: type[M]) -> M:
    """The query string validated against ``model``."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``; 422 naming every bad field (``type``: pydantic's stable error type, to translate)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        fields = list(dict.fromkeys(e["field"] for e in errors))
        raise ValidationFailed(f"the request has invalid fields: {', '.join(fields)}",
                               details={"fields": fields, "errors": errors}) from None


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response (pydantic models serialised in JSON mode)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return web.json_response(data, status=status, headers=headers,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=_json_default))


def _json_default(o: Any) -> Any:
    """Dates and times in ISO 8601 / RFC 3339 form (``T`` separator), anything else as its text."""
    if isinstance(o, date | time):
        return o.isoformat()
    return str(o)


def language(request: web.Request) -> Language:
    """The language of the answer to ``request``: its Accept-Language, else ``server.default_language``."""
    container = request.app.get(CONTAINER)
    default = container.settings.server.default_language if container is not None else DEFAULT_LANGUAGE
    return negotiate(request.headers.get("Accept-Language"), default)


def error_response(request: web.Request, err: CallguardError, headers: dict[str, str] | None = None) -> web.Response:
    """The one error shape, its ``message`` in the language ``request`` asked for (``Content-Language``)."""
    lang = language(request)
    return json_response(err.to_body(lang), status=err.status,
                         headers={**(headers or {}), "Content-Language": lang, "Vary": "Accept-Language"})
