"""HTTP handlers of the compliance gate: check, decision log, client policies, do-not-call list."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from auth.models import Role
from compliance.admin import ComplianceAdmin, PolicyView
from compliance.schemas import (
    CheckRequest,
    DecisionLogEntry,
    DecisionOut,
    DecisionPage,
    DecisionQuery,
    DoNotCallClient,
    DoNotCallIn,
    DoNotCallList,
    DoNotCallOut,
    DoNotCallQuery,
    PolicyIn,
    PolicyOut,
    decision_entry_json,
    policy_json,
)

router = Router()
DIALERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION)
AUDITORS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
_CLIENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@router.route("POST", "/v1/compliance/check", summary="Would this dial be allowed?", tag="compliance",
              roles=DIALERS, body=CheckRequest, response=DecisionOut, errors=(401, 403, 422))
async def check(request: web.Request) -> web.StreamResponse:
    """The same answer POST /v1/calls would give, without dialling. The check is logged, not counted."""
    req = await body(request, CheckRequest)
    out = await request.app[CONTAINER].calls.check(principal(request), agent_id=req.agent, number=req.number,
                                                    case_id=req.case_id, override_reason=req.override_reason)
    return json_response(out)


def _admin(request: web.Request) -> ComplianceAdmin:
    return request.app[CONTAINER].compliance


def _policy(view: PolicyView) -> dict[str, object]:
    return policy_json(view.row, view.effective)


@router.route("GET", "/v1/compliance/decisions", summary="The decision log", tag="compliance", roles=AUDITORS,
              query=DecisionQuery, response=DecisionPage, errors=(401, 403, 422))
async def list_decisions(request: web.Request) -> web.StreamResponse:
    """Every decision, allowed or blocked, newest first; never updated or deleted."""
    page = await _admin(request).decisions(principal(request), query(request, DecisionQuery))
    return json_response({"items": [decision_entry_json(r) for r in page.items], "next_cursor": page.next_cursor})


@router.route("GET", "/v1/compliance/decisions/{decision_id}", summary="One decision", tag="compliance",
              roles=AUDITORS, response=DecisionLogEntry, errors=(401, 403, 404))
async def get_decision(request: web.Request) -> web.StreamResponse:
    """One decision with everything needed to explain it."""
    return json_response(decision_entry_json(await _admin(request).decision(principal(request),
                                                                            request.match_info["decision_id"])))


@router.route("PUT", f"/v1/compliance/policies/{{client_id:{_CLIENT}}}", summary="Set a client's policy",
              tag="compliance", roles=(Role.ADMIN,), body=PolicyIn, response=PolicyOut, errors=(401, 403, 404, 422))
async def put_policy(request: web.Request) -> web.StreamResponse:
    """Jurisdiction profile plus the client's own rules; the strictest combination applies.

    Every change is audited (``policy.changed``, with ``reason`` and the whole policy before and after):
    ``GET /v1/audit?target_type=client_policy&target_id={client_id}`` is the policy's full history.
    """
    req = await body(request, PolicyIn)
    view = await _admin(request).put_policy(principal(request), request.match_info["client_id"], req,
                                            actor=actor(request))
    return json_response(_policy(view))


@router.route("GET", f"/v1/compliance/policies/{{client_id:{_CLIENT}}}", summary="A client's policy",
              tag="compliance", roles=(Role.ADMIN, Role.SUPERVISOR, Role.MANAGER), response=PolicyOut,
              errors=(401, 403, 404))
async def get_policy(request: web.Request) -> web.StreamResponse:
    """The stored policy and the effective one."""
    return json_response(_policy(await _admin(request).policy(principal(request), request.match_info["client_id"])))


@router.route("POST", "/v1/compliance/do-not-call", summary="Add a do-not-call entry", tag="compliance",
              roles=(Role.ADMIN, Role.SUPERVISOR), body=DoNotCallIn, response=DoNotCallIn, status=201,
              errors=(401, 403, 404, 422))
async def add_dnc(request: web.Request) -> web.StreamResponse:
    """An exact number or a prefix that a client's dials may not reach (idempotent; audited as
    ``do_not_call.added``); the answer names the client (`*`: every client)."""
    req = await body(request, DoNotCallIn)
    client = await _admin(request).add_do_not_call(principal(request), req, actor=actor(request))
    return json_response(req.model_copy(update={"client": client or "*"}), status=201)


@router.route("GET", "/v1/compliance/do-not-call", summary="The do-not-call list", tag="compliance",
              roles=AUDITORS, query=DoNotCallQuery, response=DoNotCallList, errors=(401, 403, 422))
async def list_dnc(request: web.Request) -> web.StreamResponse:
    """The entries that bind the caller's clients' dials (each client's own and those of every client, `*`),
    newest first, paged by ``next_cursor``; ``?number=`` finds the entries that stop one number (its exact entry
    and its prefixes).
    A number of a case marked ``do_not_call`` is a case's contact, not an entry: it returns to valid only
    through a two-person release (``POST /v1/release-requests``, kind ``do_not_call_number``)."""
    rows, nxt = await _admin(request).do_not_call(principal(request), query(request, DoNotCallQuery))
    return json_response(DoNotCallList(items=[DoNotCallOut(value=r.value, kind=r.kind, client=r.client_id or "*",
                                                            reason=r.reason, added_by=r.added_by,
                                                            added_at=r.added_at) for r in rows],
                                       next_cursor=nxt))


@router.route("DELETE", "/v1/compliance/do-not-call/{kind:exact|prefix}/{value}", summary="Remove a do-not-call entry",
              tag="compliance", roles=(Role.ADMIN,), query=DoNotCallClient, status=204, errors=(401, 403, 404, 422))
async def remove_dnc(request: web.Request) -> web.StreamResponse:
    """Remove one client's entry (``?client=``, `*` for an entry of every client; default as when adding);
    audited as ``do_not_call.removed`` with the entry and ``?reason=``."""
    q = query(request, DoNotCallClient)
    await _admin(request).remove_do_not_call(principal(request), kind=request.match_info["kind"],
                                             value=request.match_info["value"], client=q.client,
                                             actor=actor(request), reason=q.reason)
    return web.Response(status=204)
