"""OpenAPI 3.1 generated from the route registry and its pydantic models.

The document is as strict as the service: query parameters keep their enums, patterns and bounds, path
parameters carry the route's regex, and every status an operation can answer is listed with the one error
shape. Statuses every operation of a kind can answer are derived here rather than declared per route:
429 for every operation but the health checks (the request rate limit; failed sign-ins throttled too),
401 and 503 (``database``) for authenticated operations, 403 when not every role may call it,
400 (``bad-json``), 413 and 422 for a JSON body, 422 for a query (a cursor too: its form is documented),
and 404 (``no-such-route``) for a path parameter with a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api.middleware import UNLIMITED_PATHS
from api.routing import ALL_ROLES, RouteSpec
from core.messages import LANGUAGES
from core.schemas import EventOut, HelloData, WebhookBody

_STATUS_TEXT = {201: "Created", 400: "Bad request (the body is not JSON)", 401: "No or unknown token",
                403: "Role not allowed", 404: "Not found", 405: "Method not allowed", 409: "Conflict / blocked",
                413: "Body too large", 416: "Range not satisfiable", 422: "Invalid input",
                429: "Too many requests from this credential (rate-limited), or too many failed sign-ins from "
                     "this address (too-many-failed-sign-ins); Retry-After says when to retry",
                503: "An upstream (database, PBX, storage) is unavailable (upstream-unavailable, pbx-unavailable), "
                     "or this instance sheds new dials while behind on its PBXs' events (service-overloaded, "
                     "with Retry-After)"}
_REF = "#/components/schemas/{model}"
_ERROR_HEADERS = {"Content-Language": {
    "description": "The language of error.message, negotiated from Accept-Language", "required": True,
    "schema": {"type": "string", "enum": list(LANGUAGES)}}}
_RETRY_AFTER = {"Retry-After": {"description": "Whole seconds to wait before retrying", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


class ErrorDetail(BaseModel):
    """Machine-readable code, human message (in the negotiated language, also given in each), details."""

    code: str = Field(description="Stable machine-readable code (kebab case); every code has a message in "
                                  "zh-CN and en (core/messages.py)", pattern="^[a-z0-9][a-z0-9_-]*$")
    message: str = Field(description="In the language negotiated from Accept-Language (the Content-Language "
                                     "header; zh-CN unless server.default_language says otherwise)")
    messages: dict[str, str] = Field(
        description="The message in every language the service speaks",
        json_schema_extra={"required": list(LANGUAGES), "propertyNames": {"enum": list(LANGUAGES)}})
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorDetail


def build_spec(routes: list[RouteSpec], *, version: str,
               event_data: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``; ``event_data``: the live stream's and webhooks' event types, each
    with the model of its ``data``."""
    event_data = dict(event_data or {})
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization"), (EventOut, "serialization"),
                                                          (HelloData, "serialization"),
                                                          (WebhookBody, "serialization")]
    keyed += [(m, "serialization") for m in event_data.values()]
    for r in routes:
        keyed += [(m, "validation") for m in (r.body, r.query) if m is not None]
        if r.response is not None:
            keyed.append((r.response, "serialization"))
    keyed = list(dict.fromkeys(keyed))
    refs, schema = models_json_schema(keyed, ref_template=_REF)
    components: dict[str, Any] = schema.get("$defs", {})
    query_components: set[str] = set()
    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": f"{r.tag}.{r.handler.__name__}",
            "summary": r.summary,
            "description": r.description.strip(),
            "tags": [r.tag],
            "responses": {},
        }
        path, names, regexes = parse_path(r.path)
        params: list[dict[str, Any]] = []
        for name, regex in zip(names, regexes, strict=True):
            ps: dict[str, Any] = {"type": "string", "minLength": 1}
            if regex:
                ps["pattern"] = f"^(?:{regex})$"
            params.append({"name": name, "in": "path", "required": True, "schema": {**ps, **r.params.get(name, {})}})
        if r.query is not None:
            qname = _ref_name(refs[(r.query, "validation")])
            query_components.add(qname)
            qs = components[qname]
            for name, prop in qs.get("properties", {}).items():
                schema_ = query_schema(prop)
                text = prop.get("description") or schema_.pop("description", "")
                params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                               "schema": schema_, "description": text})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(r.body, "validation")]}}}
        ok: dict[str, Any] = {"description": "OK" if r.status != 204 else "No content"}
        if r.response is not None:
            ok["content"] = {r.content_type: {"schema": refs[(r.response, "serialization")]}}
        elif r.content_type == "text/event-stream":
            ok["content"] = {r.content_type: {"schema": {"$ref": _REF.format(model="EventStreamMessage")}}}
        elif r.content_type != "application/json":
            ok["content"] = {r.content_type: {"schema": {"type": "string", "contentMediaType": r.content_type}}}
        for alt in r.alt_types:
            ok.setdefault("content", {})[alt] = {"schema": {"type": "string", "contentMediaType": alt}}
        if r.links:
            ok["links"] = r.links
        op["responses"][str(r.status)] = ok
        for code in r.also:
            op["responses"][str(code)] = {**ok, "description": _STATUS_TEXT.get(code, "OK"), "links": r.links}
            if not r.links:
                del op["responses"][str(code)]["links"]
        for code in sorted(statuses(r, has_path_pattern=any(regexes))):
            headers = {**_ERROR_HEADERS, **(_RETRY_AFTER if code == 429 else {})}
            op["responses"][str(code)] = {"description": _STATUS_TEXT.get(code, "Error"), "headers": headers,
                                          "content": {"application/json": {
                                              "schema": {"$ref": _REF.format(model="ErrorBody")}}}}
        if r.roles is not None:
            op["security"] = [{"bearer": []}, {"session": []}]
            op["x-roles"] = [str(x) for x in r.roles]
        paths.setdefault(path, {})[r.method.lower()] = op
    for name in query_components:  # their fields became parameters; the object itself is no body anywhere
        if not any(r.body is not None and _ref_name(refs[(r.body, "validation")]) == name for r in routes):
            components.pop(name, None)
    data_refs = {t: _ref_name(refs[(m, "serialization")]) for t, m in event_data.items()}
    components.update(event_components(data_refs))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Callguard", "version": version,
                 "description": "Click-to-dial, recordings, compliance gate, analytics and case hooks."},
        "paths": paths,
        "webhooks": webhooks(data_refs, components),
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "cg_session", "description": (
                "A person's console session (POST /v1/session). Every state-changing request made with it also "
                "sends the session's CSRF token (GET /v1/session: csrf_token) in the X-CSRF-Token header, "
                "else 403 csrf-token-invalid.")}}},
    }


def statuses(r: RouteSpec, *, has_path_pattern: bool) -> set[int]:
    """Every error status ``r`` can answer: its declared ones and those its kind implies."""
    out = set(r.errors)
    if r.path not in UNLIMITED_PATHS:
        out.add(429)  # the request rate limit (api.middleware)
    if r.roles is not None:
        out |= {401, 503}
        if set(r.roles) != set(ALL_ROLES):
            out.add(403)
    if r.body is not None:
        out |= {400, 413, 422}
    if r.query is not None:
        out.add(422)
    if has_path_pattern:
        out.add(404)
    out.discard(r.status)
    return out - set(r.also)


def query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: absent is the only 'null' a query string has."""
    out = {k: v for k, v in prop.items() if k not in ("title", "description")}
    if "anyOf" in out:
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del out["anyOf"]
            out = {**branches[0], **out}
        else:
            out["anyOf"] = branches
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def event_components(data_refs: Mapping[str, str]) -> dict[str, Any]:
    """The live stream's components: per event type (``data_refs``: type -> its data's component), the JSON
    event (``Event.<type>``) and the Server-Sent Event carrying it (``EventStreamMessage.<type>``); then
    ``EventStreamMessage``, one of them (or ``hello``) by ``event``."""
    out: dict[str, Any] = {"EventStreamMessage.hello": {
        "type": "object", "required": ["event", "data"],
        "description": "The first message of every stream: who is listening.",
        "properties": {"event": {"const": "hello"},
                       "data": {"type": "string", "contentMediaType": "application/json",
                                "contentSchema": {"$ref": _REF.format(model="HelloData")}}}}}
    for t, data in data_refs.items():
        out[f"Event.{t}"] = {
            "description": f"A ``{t}`` event as the live stream sends it (``core.events.event_to_json``).",
            "allOf": [{"$ref": _REF.format(model="EventOut")}, {"properties": {
                "type": {"const": t},
                "data": {"allOf": [{"$ref": _REF.format(model=data)}], "unevaluatedProperties": False}}}]}
        out[f"EventStreamMessage.{t}"] = {
            "type": "object", "required": ["event", "data", "id"],
            "properties": {
                "event": {"const": t},
                "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The event's ``seq``"},
                "data": {"type": "string", "contentMediaType": "application/json",
                         "contentSchema": {"$ref": _REF.format(model=f"Event.{t}")}}}}
    kinds = ["hello", *data_refs]
    out["EventStreamMessage"] = {
        "description": "One Server-Sent Event (``event``, ``data``, ``id``): ``hello`` first, then domain events, "
                       "each type with its own data schema.",
        "oneOf": [{"$ref": _REF.format(model=f"EventStreamMessage.{k}")} for k in kinds],
        "discriminator": {"propertyName": "event",
                          "mapping": {k: _REF.format(model=f"EventStreamMessage.{k}") for k in kinds}}}
    return out


def webhooks(data_refs: Mapping[str, str], components: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1 ``webhooks``: what a subscriber's endpoint receives, one entry per event type (``data_refs``:
    type -> its data's component). The body's data is the event's data plus ``event_id`` and, when the data
    has not got them, the event's ``case_id``, ``call_id``, ``agent_id`` and ``client_id`` when set
    (``hooks.outbox.event_body``)."""
    out: dict[str, Any] = {}
    for t, data in data_refs.items():
        has = _property_names(components, data)
        added = {k: {"type": "string"} for k in ("case_id", "call_id", "agent_id", "client_id") if k not in has}
        out[t] = {"post": {
            "operationId": f"webhook.{t}",
            "summary": f"{t} delivered to a subscription",
            "description": ("Signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`); "
                            "any 2xx acknowledges, anything else is retried with backoff."),
            "parameters": [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                           for h in ("webhook-id", "webhook-timestamp", "webhook-signature")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"allOf": [
                {"$ref": _REF.format(model="WebhookBody")},
                {"properties": {"type": {"const": t}, "data": {
                    "allOf": [{"$ref": _REF.format(model=data)},
                              {"required": ["event_id"],
                               "properties": {"event_id": {"type": "string", "description": "The event's id"},
                                              **added}}],
                    "unevaluatedProperties": False}}}]}}}},
            "responses": {"2XX": {"description": "Delivered"}},
        }}
    return out


def _property_names(components: Mapping[str, Any], name: str) -> set[str]:
    """The properties every instance of component ``name`` has (through ``oneOf``: those all branches have)."""
    schema = components[name]
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        return set.intersection(*(_property_names(components, _ref_name(b)) for b in branches))
    return set(schema.get("properties", {}))


_PARAM = re.compile(r"\{([^{}:]+)(?::((?:[^{}]|\{[^{}]*\})+))?\}")


def parse_path(path: str) -> tuple[str, list[str], list[str]]:
    """An aiohttp path (``/x/{id:[0-9]{1,3}}``) as an OpenAPI path (``/x/{id}``), its names and regexes."""
    names: list[str] = []
    regexes: list[str] = []

    def sub(m: re.Match[str]) -> str:
        names.append(m.group(1))
        regexes.append(m.group(2) or "")
        return "{" + m.group(1) + "}"

    return _PARAM.sub(sub, path), names, regexes


def openapi_path(path: str) -> tuple[str, list[str]]:
    """An aiohttp path as an OpenAPI path and its parameter names."""
    out, names, _ = parse_path(path)
    return out, names

