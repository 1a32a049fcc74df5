"""OpenAPI 3.1 generated from the route registry and its pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.routing import RouteSpec

_STATUS_TEXT = {400: "Bad request", 401: "No or unknown token", 403: "Role not allowed", 404: "Not found",
                409: "Conflict / blocked", 413: "Body too large", 422: "Invalid input",
                429: "Too many failed sign-ins from this address (Retry-After)",
                503: "An upstream (database, PBX, storage) is unavailable"}


class ErrorDetail(BaseModel):
    """Machine-readable code, human message, details."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorDetail


def build_spec(routes: list[RouteSpec], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    models: set[type[BaseModel]] = {ErrorBody}
    for r in routes:
        models.update(m for m in (r.body, r.response) if m is not None)
    keyed: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, "validation" if any(r.body is m for r in routes) else "serialization") for m in models
    ]
    _, schema = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    components = schema.get("$defs", {})
    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": f"{r.tag}.{r.handler.__name__}",
            "summary": r.summary,
            "description": r.description.strip(),
            "tags": [r.tag],
            "responses": {},
        }
        path, names = openapi_path(r.path)
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
        if r.query is not None:
            qs = r.query.model_json_schema(by_alias=True)
            for name, prop in qs.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                               "schema": _inline(prop), "description": prop.get("description", "")})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}}}
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {r.content_type: {"schema": {"$ref": f"#/components/schemas/{r.response.__name__}"}}}
        elif r.content_type != "application/json":
            ok["content"] = {r.content_type: {"schema": {"type": "string"}}}
        op["responses"][str(r.status)] = ok
        for code in r.errors:
            op["responses"][str(code)] = {"description": _STATUS_TEXT.get(code, "Error"), "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        if r.roles is not None:
            op["security"] = [{"bearer": []}]
            op["x-roles"] = [str(x) for x in r.roles]
        paths.setdefault(path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Callguard", "version": version,
                 "description": "Click-to-dial, recordings, compliance gate, analytics and case hooks."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


def openapi_path(path: str) -> tuple[str, list[str]]:
    """An aiohttp path (``/x/{id:[0-9]{1,3}}``) as an OpenAPI path (``/x/{id}``) and its parameter names."""
    out, names, i = [], [], 0
    while i < len(path):
        if path[i] != "{":
            out.append(path[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(path):
            depth += {"{": 1, "}": -1}.get(path[j], 0)
            if depth == 0:
                break
            j += 1
        name = path[i + 1:j].split(":", 1)[0]
        names.append(name)
        out.append("{" + name + "}")
        i = j + 1
    return "".join(out), names


def _inline(prop: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in prop.items() if k not in ("title", "description")}
    if "$ref" in out:
        return {"type": "string"}
    if "anyOf" in out:
        out["anyOf"] = [_inline(x) for x in out["anyOf"]]
    return out
