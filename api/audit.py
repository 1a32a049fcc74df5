"""HTTP handlers of the audit trail: a filtered, paginated read and a streamed NDJSON export."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, json_response, principal, query
from audit.schemas import AuditPage, AuditQuery
from auth.models import Role

router = Router()
AUDIT_READERS = (Role.MANAGER, Role.ADMIN)


@router.route("GET", "/v1/audit", summary="The audit trail", tag="audit", roles=AUDIT_READERS, query=AuditQuery,
              response=AuditPage, alt_types=("application/x-ndjson",), errors=(401, 403, 422))
async def list_audit(request: web.Request) -> web.StreamResponse:
    """Every privileged act, newest first, never updated or deleted; a global admin sees every client's.

    ``format=ndjson`` streams every match (one JSON object a line, ``application/x-ndjson``); the
    export itself is recorded in the trail (``audit.exported``).
    """
    q = query(request, AuditQuery)
    who = principal(request)
    clients = None if who.is_global else who.clients
    c = request.app[CONTAINER]
    if q.format == "json":
        return json_response(await c.audit.page(q, clients=clients))
    await c.audit.record_export(actor(request), q)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson; charset=utf-8"})
    await resp.prepare(request)
    async for chunk in c.audit.export(q, clients=clients):
        await resp.write(chunk)
    await resp.write_eof()
    return resp
