"""HTTP handlers of click-to-dial calls: validate, call the service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from auth.models import Role
from core.pagination import decode_cursor, encode_cursor
from dialer.schemas import CallList, CallOut, CallQuery, CallRequest, call_to_json

router = Router()
DIALERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION)
READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.INTEGRATION, Role.QA)


@router.route("POST", "/v1/calls", summary="Request a click-to-dial call", tag="calls", roles=DIALERS,
              body=CallRequest, response=CallOut, status=202, errors=(401, 403, 409, 422, 503))
async def create_call(request: web.Request) -> web.StreamResponse:
    """The agent's phone rings first; when the agent answers, the PBX dials the customer.

    The compliance gate runs in the same transaction that records the attempt; a blocked call never
    reaches the PBX and answers 409 with the rule, the zones and ``next_allowed_at``.
    """
    req = await body(request, CallRequest)
    c = request.app[CONTAINER]
    call = await c.calls.request_call(principal(request), agent_id=req.agent, number=req.number,
                                      case_id=req.case_id, override_reason=req.override_reason)
    return json_response(call_to_json(call), status=202, headers={"Location": f"/v1/calls/{call.id}"})


@router.route("GET", "/v1/calls/{call_id}", summary="One call", tag="calls", roles=READERS,
              response=CallOut, errors=(401, 404))
async def get_call(request: web.Request) -> web.StreamResponse:
    """A call with its state, steps and durations."""
    call = await request.app[CONTAINER].calls.get(principal(request), request.match_info["call_id"])
    return json_response(call_to_json(call))


@router.route("GET", "/v1/calls", summary="List calls", tag="calls", roles=READERS, query=CallQuery,
              response=CallList, errors=(401, 422))
async def list_calls(request: web.Request) -> web.StreamResponse:
    """Calls newest first; agents see their own. Cursor pagination via ``next_cursor``."""
    q = query(request, CallQuery)
    calls = await request.app[CONTAINER].calls.list(
        principal(request), agent=q.agent, state=q.state.value if q.state else None, case_id=q.case_id,
        direction=q.direction, since=q.since, until=q.until, cursor=decode_cursor(q.cursor) if q.cursor else None,
        limit=q.limit,
    )
    nxt = encode_cursor(calls[-1].created_at, calls[-1].id) if len(calls) == q.limit else None
    return json_response({"items": [call_to_json(c) for c in calls], "next_cursor": nxt})


@router.route("POST", "/v1/calls/{call_id}/hangup", summary="Hang up a call", tag="calls", roles=DIALERS,
              response=CallOut, status=202, errors=(401, 404, 409, 503))
async def hangup_call(request: web.Request) -> web.StreamResponse:
    """Hang up the call (before or after the customer answered); its end arrives as events."""
    call = await request.app[CONTAINER].calls.hangup(principal(request), request.match_info["call_id"])
    return json_response(call_to_json(call), status=202)
