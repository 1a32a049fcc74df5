"""HTTP handlers of the compliance gate: check, decision log, client policies, do-not-call list."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import delete, select

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from auth.models import Role
from compliance.models import ClientPolicy, ComplianceDecision, DoNotCall
from compliance.policy import Policy
from compliance.schemas import (
    CheckRequest,
    DecisionLogEntry,
    DecisionOut,
    DecisionPage,
    DecisionQuery,
    DoNotCallIn,
    PolicyIn,
    PolicyOut,
)
from compliance.service import ComplianceGate
from core.errors import NotFound, ValidationFailed
from core.pagination import after, decode_cursor, encode_cursor, where_equal
from db.base import utcnow

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


def _entry(row: ComplianceDecision) -> dict[str, object]:
    return DecisionLogEntry.model_validate(row, from_attributes=True).model_dump(mode="json")


@router.route("GET", "/v1/compliance/decisions", summary="The decision log", tag="compliance", roles=AUDITORS,
              query=DecisionQuery, response=DecisionPage, errors=(401, 403, 422))
async def list_decisions(request: web.Request) -> web.StreamResponse:
    """Every decision, allowed or blocked, newest first; never updated or deleted."""
    q = query(request, DecisionQuery)
    stmt = where_equal(select(ComplianceDecision), (ComplianceDecision.case_id, q.case_id),
                       (ComplianceDecision.number, q.number), (ComplianceDecision.agent_id, q.agent),
                       (ComplianceDecision.allowed, q.allowed), (ComplianceDecision.code, q.code))
    if q.since:
        stmt = stmt.where(ComplianceDecision.at >= q.since)
    if q.until:
        stmt = stmt.where(ComplianceDecision.at < q.until)
    if q.cursor:
        stmt = stmt.where(after(ComplianceDecision.at, ComplianceDecision.id, decode_cursor(q.cursor)))
    stmt = stmt.order_by(ComplianceDecision.at.desc(), ComplianceDecision.id.desc()).limit(q.limit)
    async with request.app[CONTAINER].db.read() as s:
        rows = list((await s.scalars(stmt)).all())
    nxt = encode_cursor(rows[-1].at, rows[-1].id) if len(rows) == q.limit else None
    return json_response({"items": [_entry(r) for r in rows], "next_cursor": nxt})


@router.route("GET", "/v1/compliance/decisions/{decision_id}", summary="One decision", tag="compliance",
              roles=AUDITORS, response=DecisionLogEntry, errors=(401, 403, 404))
async def get_decision(request: web.Request) -> web.StreamResponse:
    """One decision with everything needed to explain it."""
    did = request.match_info["decision_id"]
    async with request.app[CONTAINER].db.read() as s:
        row = await s.get(ComplianceDecision, did)
    if row is None:
        raise NotFound(f"no decision {did}", code="no-such-decision")
    return json_response(_entry(row))


def _gate(request: web.Request) -> ComplianceGate:
    gate = request.app[CONTAINER].extras["gate"]
    assert isinstance(gate, ComplianceGate)
    return gate


async def _policy_out(request: web.Request, row: ClientPolicy) -> dict[str, object]:
    async with request.app[CONTAINER].db.read() as s:
        effective = await _gate(request).policy_for(s, row.client_id)
    return {"client_id": row.client_id, "jurisdiction": row.jurisdiction, "rules": row.policy,
            "retention_days": row.retention_days, "effective": effective.model_dump(mode="json"),
            "updated_at": row.updated_at.isoformat(), "updated_by": row.updated_by}


@router.route("PUT", f"/v1/compliance/policies/{{client_id:{_CLIENT}}}", summary="Set a client's policy",
              tag="compliance", roles=(Role.ADMIN,), body=PolicyIn, response=PolicyOut, errors=(401, 403, 422))
async def put_policy(request: web.Request) -> web.StreamResponse:
    """Jurisdiction profile plus the client's own rules; the strictest combination applies."""
    req = await body(request, PolicyIn)
    client_id = request.match_info["client_id"]
    floor = request.app[CONTAINER].settings.recordings.retention_floor_days
    if req.retention_days is not None and req.retention_days < floor:
        raise ValidationFailed(f"retention_days may not be below the floor of {floor} days",
                               code="retention-below-floor", details={"floor_days": floor})
    try:
        Policy.model_validate({**req.rules, "id": f"client:{client_id}", "name": client_id})
    except ValueError as exc:
        raise ValidationFailed("the policy rules are invalid", details={"reason": str(exc)[:2000]}) from None
    who = principal(request).user_id
    async with request.app[CONTAINER].db.begin() as s:
        row = await s.get(ClientPolicy, client_id)
        if row is None:
            row = ClientPolicy(client_id=client_id)
            s.add(row)
        row.jurisdiction, row.policy, row.retention_days = req.jurisdiction, req.rules, req.retention_days
        row.updated_at, row.updated_by = utcnow(), who
    return json_response(await _policy_out(request, row))


@router.route("GET", f"/v1/compliance/policies/{{client_id:{_CLIENT}}}", summary="A client's policy",
              tag="compliance", roles=(Role.ADMIN, Role.SUPERVISOR, Role.MANAGER), response=PolicyOut,
              errors=(401, 403, 404))
async def get_policy(request: web.Request) -> web.StreamResponse:
    """The stored policy and the effective one."""
    client_id = request.match_info["client_id"]
    async with request.app[CONTAINER].db.read() as s:
        row = await s.get(ClientPolicy, client_id)
    if row is None:
        raise NotFound(f"no policy for client {client_id}", code="no-such-policy")
    return json_response(await _policy_out(request, row))


@router.route("POST", "/v1/compliance/do-not-call", summary="Add a do-not-call entry", tag="compliance",
              roles=(Role.ADMIN, Role.SUPERVISOR), body=DoNotCallIn, response=DoNotCallIn, status=201,
              errors=(401, 403, 422))
async def add_dnc(request: web.Request) -> web.StreamResponse:
    """An exact number or a prefix that nobody may dial (idempotent)."""
    req = await body(request, DoNotCallIn)
    async with request.app[CONTAINER].db.begin() as s:
        if await s.get(DoNotCall, (req.value, req.kind)) is None:
            s.add(DoNotCall(value=req.value, kind=req.kind, reason=req.reason, added_by=principal(request).user_id))
    return json_response(req, status=201)


@router.route("DELETE", "/v1/compliance/do-not-call/{kind:exact|prefix}/{value}", summary="Remove a do-not-call entry",
              tag="compliance", roles=(Role.ADMIN,), status=204, errors=(401, 403, 404))
async def remove_dnc(request: web.Request) -> web.StreamResponse:
    """Remove an entry."""
    async with request.app[CONTAINER].db.begin() as s:
        result = await s.execute(delete(DoNotCall).where(DoNotCall.value == request.match_info["value"],
                                                         DoNotCall.kind == request.match_info["kind"]))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("no such do-not-call entry", code="no-such-entry")
    return web.Response(status=204)
