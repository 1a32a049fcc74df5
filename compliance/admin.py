"""Compliance administration: client policies, the do-not-call list, and the decision log (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, literal, or_, select, tuple_

from audit.service import Actor, AuditService
from auth.models import User
from auth.scope import Scope
from auth.service import Principal
from compliance.errors import (
    ClientRequired,
    NoSuchClient,
    NoSuchDecision,
    NoSuchDoNotCallEntry,
    NoSuchPolicy,
    RetentionBelowFloor,
)
from compliance.models import EVERY_CLIENT, ClientPolicy, ComplianceDecision, DoNotCall
from compliance.policy import Policy
from compliance.schemas import (
    DecisionQuery,
    DoNotCallIn,
    DoNotCallQuery,
    PolicyIn,
    dnc_snapshot,
    policy_snapshot,
)
from compliance.service import ComplianceGate
from core.clock import Clock
from core.errors import ValidationFailed
from core.pagination import after, decode_cursor, encode_cursor, from_micros, to_micros, where_equal
from db.engine import Database


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A client's stored policy and the effective policy the gate applies to it."""

    row: ClientPolicy
    effective: Policy


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """One page of the decision log, newest first."""

    items: list[ComplianceDecision]
    next_cursor: str | None


class ComplianceAdmin:
    """The admin use cases of the compliance feature (the gate itself is ``ComplianceGate``)."""

    def __init__(self, *, db: Database, gate: ComplianceGate, clock: Clock, retention_floor_days: int,
                 audit: AuditService | None = None) -> None:
        self.db, self.gate, self.clock = db, gate, clock
        self.retention_floor_days = retention_floor_days
        # every policy and do-not-call change is audited in its own transaction (the trail is the history)
        self.audit = audit if audit is not None else AuditService(db=db, clock=clock)

    # -- decision log ---------------------------------------------------------------------------
    async def decisions(self, principal: Principal, q: DecisionQuery) -> DecisionPage:
        """Every decision the caller may see (``auth.scope``), allowed or blocked, newest first, filtered and
        paged by cursor."""
        stmt = where_equal(select(ComplianceDecision).where(_visible(principal)),
                           (ComplianceDecision.case_id, q.case_id),
                           (ComplianceDecision.number, q.number), (ComplianceDecision.agent_id, q.agent),
                           (ComplianceDecision.allowed, q.allowed), (ComplianceDecision.code, q.code))
        if q.since:
            stmt = stmt.where(ComplianceDecision.at >= q.since)
        if q.until:
            stmt = stmt.where(ComplianceDecision.at < q.until)
        if q.cursor:
            stmt = stmt.where(after(ComplianceDecision.at, ComplianceDecision.id, decode_cursor(q.cursor)))
        stmt = stmt.order_by(ComplianceDecision.at.desc(), ComplianceDecision.id.desc()).limit(q.limit)
        async with self.db.read() as s:
            rows = list((await s.scalars(stmt)).all())
        nxt = encode_cursor(rows[-1].at, rows[-1].id) if len(rows) == q.limit else None
        return DecisionPage(rows, nxt)

    async def decision(self, principal: Principal, decision_id: str) -> ComplianceDecision:
        """One decision with everything needed to explain it (another client's answers 404 like a missing one)."""
        async with self.db.read() as s:
            row = (await s.scalars(select(ComplianceDecision).where(ComplianceDecision.id == decision_id,
                                                                     _visible(principal)))).first()
        if row is None:
            raise NoSuchDecision(f"no decision {decision_id}")
        return row

    # -- client policies ------------------------------------------------------------------------
    async def put_policy(self, principal: Principal, client_id: str, data: PolicyIn, *, actor: Actor) -> PolicyView:
        """Store a client's jurisdiction and own rules (checked first); the strictest combination applies.

        Each change is audited (``policy.changed``, the whole policy before and after): the audit trail is
        the policy's full history. Storing the same policy again changes and records nothing.
        """
        _require_client(principal, client_id)
        floor = self.retention_floor_days
        if data.retention_days is not None and data.retention_days < floor:
            raise RetentionBelowFloor(f"retention_days may not be below the floor of {floor} days",
                                      details={"floor_days": floor})
        try:
            Policy.model_validate({**data.rules, "id": f"client:{client_id}", "name": client_id})
        except ValueError as exc:
            raise ValidationFailed("the policy rules are invalid", details={"reason": str(exc)[:2000]}) from None
        async with self.db.begin() as s:
            row = await s.get(ClientPolicy, client_id)
            before = policy_snapshot(row) if row is not None else None
            if row is None:
                row = ClientPolicy(client_id=client_id)
                s.add(row)
            elif (row.jurisdiction, row.policy, row.retention_days) == (data.jurisdiction, data.rules,
                                                                        data.retention_days):
                return await self._view(row)
            row.jurisdiction, row.policy, row.retention_days = data.jurisdiction, data.rules, data.retention_days
            row.updated_at, row.updated_by = self.clock.now(), actor.user_id[:64]
            await s.flush()
            await self.audit.record(s, actor=actor, action="policy.changed", target_type="client_policy",
                                    target_id=client_id, client_id=client_id, reason=data.reason, before=before,
                                    after=policy_snapshot(row))
        return await self._view(row)

    async def policy(self, principal: Principal, client_id: str) -> PolicyView:
        """The stored policy of a client and the effective one."""
        _require_client(principal, client_id)
        async with self.db.read() as s:
            row = await s.get(ClientPolicy, client_id)
        if row is None:
            raise NoSuchPolicy(f"no policy for client {client_id}")
        return await self._view(row)

    async def _view(self, row: ClientPolicy) -> PolicyView:
        async with self.db.read() as s:
            effective = await self.gate.policy_for(s, row.client_id)
        return PolicyView(row, effective)

    # -- do-not-call ----------------------------------------------------------------------------
    async def add_do_not_call(self, principal: Principal, entry: DoNotCallIn, *, actor: Actor) -> str:
        """Add an exact number or a prefix that the client's dials may not reach (idempotent; audited when
        added); the client the entry binds (``EVERY_CLIENT`` for every client) is returned."""
        client = entry_client(principal, entry.client)
        async with self.db.begin() as s:
            if await s.get(DoNotCall, (entry.value, entry.kind, client)) is None:
                row = DoNotCall(value=entry.value, kind=entry.kind, client_id=client, reason=entry.reason,
                                added_by=actor.user_id[:64], added_at=self.clock.now())
                s.add(row)
                await s.flush()
                await self.audit.record(s, actor=actor, action="do_not_call.added", target_type="do_not_call",
                                        target_id=f"{entry.kind}:{entry.value}", client_id=client or None,
                                        reason=entry.reason or None, after=dnc_snapshot(row))
        return client

    async def do_not_call(self, principal: Principal, q: DoNotCallQuery) -> tuple[list[DoNotCall], str | None]:
        """The entries binding the caller's clients' dials (their own and every client's), newest first, and the
        cursor of the next page (None on the last); another client's entries are never listed (a client the
        caller does not serve lists nothing)."""
        scope = Scope.of(principal)
        stmt = select(DoNotCall)
        if scope.clients is not None:
            stmt = stmt.where(or_(scope.client_clause(DoNotCall.client_id), DoNotCall.client_id == EVERY_CLIENT))
        if q.client is not None:
            stmt = stmt.where(DoNotCall.client_id == (EVERY_CLIENT if q.client == "*" else q.client))
        if q.number is not None:
            # values are '+' and digits only: no LIKE wildcard can come from them
            stmt = stmt.where(or_(and_(DoNotCall.kind == "exact", DoNotCall.value == q.number),
                                  and_(DoNotCall.kind == "prefix", literal(q.number).like(DoNotCall.value + "%"))))
        if q.cursor is not None:
            at, kind, value, client = _decode_dnc_cursor(q.cursor)
            stmt = stmt.where(or_(DoNotCall.added_at < at, and_(
                DoNotCall.added_at == at,
                tuple_(DoNotCall.value, DoNotCall.kind, DoNotCall.client_id) > tuple_(value, kind, client))))
        stmt = stmt.order_by(DoNotCall.added_at.desc(), DoNotCall.value, DoNotCall.kind, DoNotCall.client_id
                             ).limit(q.limit)
        async with self.db.read() as s:
            rows = list((await s.scalars(stmt)).all())
        return rows, _encode_dnc_cursor(rows[-1]) if len(rows) == q.limit else None

    async def remove_do_not_call(self, principal: Principal, *, kind: str, value: str, actor: Actor,
                                 client: str | None = None, reason: str | None = None) -> None:
        """Remove one client's entry (audited with the entry removed); ``NoSuchDoNotCallEntry`` when there is
        none, or it is another client's."""
        bound = entry_client(principal, client, missing=NoSuchDoNotCallEntry("no such do-not-call entry"))
        async with self.db.begin() as s:
            row = await s.get(DoNotCall, (value, kind, bound))
            if row is None:
                raise NoSuchDoNotCallEntry("no such do-not-call entry")
            before = dnc_snapshot(row)
            await s.execute(delete(DoNotCall).where(DoNotCall.value == value, DoNotCall.kind == kind,
                                                    DoNotCall.client_id == bound))
            await self.audit.record(s, actor=actor, action="do_not_call.removed", target_type="do_not_call",
                                    target_id=f"{kind}:{value}", client_id=bound or None, reason=reason,
                                    before=before)


def _require_client(principal: Principal, client_id: str) -> None:
    """Another client's policy answers exactly like a missing one (404)."""
    if not Scope.of(principal).sees_client(client_id):
        raise NoSuchPolicy(f"no policy for client {client_id}")


def _visible(principal: Principal) -> ColumnElement[bool]:
    """The decisions ``principal`` may see: its clients' (a team's supervisor: its team's agents'); a decision
    of no client (a manual dial) only by a global scope or the person who dialled."""
    scope = Scope.of(principal)
    row = ComplianceDecision
    theirs = scope.client_clause(row.client_id)
    if scope.team is not None:
        theirs = and_(theirs, row.agent_id.in_(select(User.id).where(User.team == scope.team)))
    if scope.agent is not None:
        theirs = and_(theirs, row.agent_id == scope.agent)
    if scope.clients is None:
        return theirs
    return or_(and_(row.client_id.isnot(None), theirs), and_(row.client_id.is_(None), row.actor == principal.user_id))


def entry_client(principal: Principal, wanted: str | None, *, missing: Exception | None = None) -> str:
    """The client a do-not-call entry binds: ``wanted`` ('*' every client) when the caller serves it, else the
    caller's only client; a global caller's entries bind every client by default. A client the caller does
    not serve answers like an unknown one."""
    scope = Scope.of(principal)
    if wanted == "*" or (wanted is None and scope.clients is None):
        if scope.clients is not None:
            raise missing or NoSuchClient("only a global admin keeps entries for every client",
                                          details={"client": "*"})
        return EVERY_CLIENT
    if wanted is None:
        if len(scope.clients or ()) != 1:
            raise ClientRequired("name the client the entry is for", details={"field": "client"})
        return next(iter(scope.clients or ()))
    if not scope.sees_client(wanted):
        raise missing or NoSuchClient(f"no client {wanted}", details={"client": wanted})
    return wanted


def _encode_dnc_cursor(row: DoNotCall) -> str:
    """The do-not-call list position after ``row`` (``compliance.schemas.DNC_CURSOR_PATTERN``)."""
    return f"{to_micros(row.added_at)}_{row.kind}_{row.value}_{row.client_id or '*'}"


def _decode_dnc_cursor(cursor: str) -> tuple[datetime, str, str, str]:
    """(added_at, kind, value, client id) of a cursor that matched ``DNC_CURSOR_PATTERN`` (the query's check)."""
    micros, kind, value, client = cursor.split("_", 3)
    return from_micros(int(micros)), kind, value, EVERY_CLIENT if client == "*" else client
