"""Case use cases: upsert and bulk import, holds, status, assignment, number status, agreed windows.

Module functions take the caller's session (one unit of work) and record their domain events through
the :class:`core.events.EventLog` in that same transaction; :class:`CaseService` opens the transactions
for the HTTP layer and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor, AuditService
from auth.models import Role
from auth.scope import Scope
from auth.service import OPERATOR, Principal
from callbacks.models import handed_clause
from cases import events as ev
from cases.contacts import attach_recording, record_contact
from cases.dialinfo import CaseDialInfo, WindowInfo, dial_context
from cases.dispositions import record_disposition
from cases.errors import CaseClosed, NoSuchCase, NoSuchClient, NoSuchContact, OutsideTeam
from cases.evidence import Evidence, contacts, evidence
from cases.holds import (
    active_holds,
    apply_hold,
    hold_snapshot,
    hold_with_legal_hold,
    holds_for,
    is_hard_stop,
    refresh_status,
    release_holds,
)
from cases.models import ENDED_STATUSES, HOLD_REASONS, Case, CaseContact, CaseHold, ContactLog, Disposition
from cases.queries import find_case, get_case
from cases.rows import CaseIn, ContactIn
from cases.schemas import CaseQuery, DispositionIn
from cases.windows import WindowRules, add_window, list_windows, revoke_window
from clients.models import pooled_clause, pooling_of
from core.clock import Clock
from core.errors import TwoPersonRule
from core.events import DomainEvent, EventLog
from core.pagination import after, decode_cursor, encode_cursor, where_equal
from db.base import new_id
from db.engine import Database

__all__ = [
    "BULK_CHUNK", "BULK_MAX", "CaseDialInfo", "CaseService", "ItemResult", "UpsertResult", "WindowInfo",
    "WindowRules",
    "add_window", "apply_hold", "assign", "attach_recording", "dial_context", "get_case", "holds_for",
    "list_windows", "record_contact", "release_holds", "revoke_window", "set_number_status", "set_status",
    "upsert_case",
]

BULK_MAX = 10_000
BULK_CHUNK = 500

# reasons a case system may send in ``hold_reason`` (free text): known words map to a hold reason
_HOLD_WORDS = {
    "争议": "dispute", "异议": "dispute", "否认": "denies_card", "否认持卡": "denies_card",
    "欺诈": "suspected_fraud", "疑似欺诈": "suspected_fraud", "死亡": "deceased", "身故": "deceased",
    "停催": "cease_request", "律师": "attorney", "破产": "bankruptcy", "困难": "hardship",
    "疾病": "illness", "重病": "illness", "怀孕": "pregnancy",
}


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one upsert did (and the holds it released, with the case's holds before)."""

    case_id: str
    result: Literal["created", "updated", "unchanged"]
    released: tuple[CaseHold, ...] = ()
    before: tuple[dict[str, Any], ...] = ()


@dataclass(slots=True)
class ItemResult:
    """The result of one item of a bulk import."""

    index: int
    external_id: str | None
    result: Literal["created", "updated", "unchanged", "invalid", "error"]
    case_id: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def _hold_reason(text: str) -> tuple[str, str | None]:
    key = text.strip().lower()
    if key in HOLD_REASONS:
        return key, None
    return _HOLD_WORDS.get(text.strip(), "other"), text


async def _sync_contacts(session: AsyncSession, case: Case, contacts: Sequence[ContactIn], now: datetime, *,
                         keep_stops: bool = False) -> None:
    rows = {c.number: c for c in (await session.scalars(
        select(CaseContact).where(CaseContact.case_id == case.id))).all()}
    listed = set()
    for c in contacts:
        listed.add(c.number)
        row = rows.get(c.number)
        if row is None:
            session.add(CaseContact(case_id=case.id, number=c.number, kind=c.kind, relation=c.relation,
                                    status=c.status, status_source="case_system", updated_at=now))
            continue
        row.kind, row.relation, row.removed_at, row.updated_at = c.kind, c.relation, None, now
        # a number we found invalid (wrong number, do not call) is not revived by a re-import saying 'valid'; nor
        # is a do-not-call number by a person's import (two people, or the case system itself, revive it)
        revives = row.status != "valid" and c.status == "valid"
        if not (revives and (row.status_source != "case_system" or (keep_stops and row.status == "do_not_call"))):
            row.status, row.status_source = c.status, "case_system"
    for number, row in rows.items():
        if number not in listed and row.removed_at is None:
            row.removed_at = now


async def upsert_case(session: AsyncSession, events: EventLog, *, client_id: str, data: CaseIn,
                      now: datetime, by: str, role: str = "integration", by_person: bool = False,
                      legal_hold: Sequence[ev.LegalHoldListener] = ()) -> UpsertResult:
    """Create or update a case from the case system; an unchanged fingerprint is a no-op (no event).

    A dispute hold asks for a legal hold on the case's recordings (``legal_hold`` listeners) in this same
    transaction. ``by_person``: an import by a person (an admin through the API), which never lifts a legal
    hard stop nor revives a do-not-call number: only the case system's own import does (its integration
    token, ``callguard import-cases``), or two people (``approvals``).
    """
    fingerprint = data.fingerprint()
    case = await find_case(session, client_id=client_id, external_id=data.external_id, lock=True)
    if case is not None and case.fingerprint == fingerprint:
        return UpsertResult(case.id, "unchanged")
    created = case is None
    if case is None:
        case = Case(id=new_id(), client_id=client_id, external_id=data.external_id, status="active",
                    created_at=now)
        session.add(case)
    case.batch_id = data.batch
    case.debtor_name, case.amount, case.currency = data.debtor_name, data.amount, data.currency
    case.days_overdue, case.address, case.region = data.days_overdue, data.address, data.region
    case.timezone, case.assigned_agent, case.team = data.timezone, data.agent, data.team
    case.received_at = data.received_at or (case.received_at if not created else now)
    case.fingerprint, case.updated_at = fingerprint, now
    if data.status in ENDED_STATUSES:
        case.status = data.status
    elif case.status in ENDED_STATUSES:
        case.status = "active"  # reopened by the case system
    await session.flush()
    await _sync_contacts(session, case, data.contacts, now, keep_stops=by_person)
    await session.flush()
    await events.record(session, DomainEvent(
        type=ev.CASE_IMPORTED if created else ev.CASE_UPDATED, case_id=case.id, client_id=client_id,
        team=case.team, occurred_at=now, payload=ev.case_payload(case, change="import")))
    current = await active_holds(session, case.id)
    before = tuple(hold_snapshot(h) for h in current)
    wanted = _hold_reason(data.hold_reason)[0] if data.status == "on_hold" and data.hold_reason is not None else None
    released: list[CaseHold] = []
    for hold in current:
        if hold.source == "case_system" and hold.reason != wanted and not (by_person and is_hard_stop(hold)):
            released += await release_holds(session, events, case, by=by, now=now, reason=hold.reason,
                                             source="case_system")
    if wanted is not None and data.hold_reason is not None:
        await hold_with_legal_hold(session, events, case, reason=wanted, source="case_system", by=by, role=role,
                                   now=now, listeners=legal_hold, note=_hold_reason(data.hold_reason)[1])
    refresh_status(case, bool(await active_holds(session, case.id)))
    return UpsertResult(case.id, "created" if created else "updated", tuple(released), before if released else ())


async def _changed(session: AsyncSession, events: EventLog, case: Case, now: datetime, **extra: Any) -> None:
    case.updated_at = now
    await session.flush()
    await events.record(session, DomainEvent(type=ev.CASE_UPDATED, case_id=case.id, client_id=case.client_id,
                                             team=case.team,
                                             occurred_at=now, payload=ev.case_payload(case, **extra)))


async def set_status(session: AsyncSession, events: EventLog, case: Case, *, status: str, now: datetime) -> None:
    """Close, mark paid, returned or recalled, or reopen (``active``) a case."""
    if status not in ("active", *ENDED_STATUSES):
        raise ValueError(f"cannot set status {status!r} directly")
    if case.status == status:
        return
    if status == "active":
        case.status = "active"
        refresh_status(case, bool(await active_holds(session, case.id)))
    else:
        case.status = status
    await _changed(session, events, case, now, change="status")


async def assign(session: AsyncSession, events: EventLog, case: Case, *, agent: str | None, team: str | None,
                 now: datetime) -> None:
    """Assign the case to an agent and team."""
    if (case.assigned_agent, case.team) == (agent, team):
        return
    case.assigned_agent, case.team = agent, team
    await _changed(session, events, case, now, change="assignment")


async def set_number_status(session: AsyncSession, events: EventLog, case: Case, *, number: str,
                            status: str | None = None, source: str, now: datetime,
                            third_party_objected: bool | None = None, zone: str | None = None) -> CaseContact:
    """Change a number's status (valid, invalid, do_not_call), objection flag or stated zone."""
    row = (await session.scalars(select(CaseContact).where(CaseContact.case_id == case.id,
                                                           CaseContact.number == number))).first()
    if row is None:
        raise NoSuchContact(f"{number} is not a number of case {case.id}", details={"number": number})
    before = (row.status, row.third_party_objected, row.zone)
    if status is not None:
        row.status, row.status_source = status, source
    if third_party_objected is not None:
        row.third_party_objected = third_party_objected
    if zone is not None:
        row.zone = zone
    if (row.status, row.third_party_objected, row.zone) != before:
        row.updated_at = now
        await _changed(session, events, case, now, change="number_status", number_status=row.status,
                       number_kind=row.kind)
    return row


@dataclass(frozen=True, slots=True)
class _Importer:
    """Who imports: the ``by`` recorded on holds, the role, whether a person (see ``upsert_case``), the actor."""

    by: str
    role: str
    by_person: bool
    actor: Actor


def is_case_system(principal: Principal) -> bool:
    """Does ``principal`` act as the client's case system, which alone lifts the hard stops it set? Its
    integration token, or the operator's own principal (``auth.service.OPERATOR``: the command line and the
    demo loader; by identity, so no user, whatever its id, passes for it). Every person is not."""
    return principal.role is Role.INTEGRATION or principal is OPERATOR


def _actor(principal: Principal, actor: Actor | None) -> Actor:
    """The audited actor: the one given (with address and request id), else the principal itself."""
    return actor if actor is not None else Actor(user_id=principal.user_id, role=str(principal.role))


def number_snapshot(row: CaseContact) -> dict[str, Any]:
    """The audited form of a case's number."""
    return {"number": row.number, "kind": row.kind, "status": row.status, "status_source": row.status_source,
            "third_party_objected": row.third_party_objected, "zone": row.zone}


async def sees(session: AsyncSession, principal: Principal, case: Case) -> bool:
    """May ``principal`` see ``case`` (``auth.scope``: its clients, team, or assignment, its team's unassigned
    cases where the client pools them, or its team's cases with a callback handed to the team)?"""
    scope = Scope.of(principal)
    if scope.agent is None or case.assigned_agent == scope.agent or case.team != scope.team:
        return scope.sees_case(client_id=case.client_id, team=case.team, assigned_agent=case.assigned_agent)
    pooling = case.assigned_agent is None and await pooling_of(session, case.client_id)
    handed = bool(await session.scalar(select(handed_clause(case.id))))
    return scope.sees_case(client_id=case.client_id, team=case.team, assigned_agent=case.assigned_agent,
                           pooling=pooling, handed=handed)


async def visible_case(session: AsyncSession, principal: Principal, case_id: str, *, lock: bool = False) -> Case:
    """The case, when ``principal`` may see it; NoSuchCase otherwise, exactly like a missing one."""
    case = await get_case(session, case_id, lock=lock)
    if not await sees(session, principal, case):
        raise NoSuchCase(f"no case {case_id}", details={"case_id": case_id})
    return case


def require_client(principal: Principal, client_id: str) -> None:
    """A write for ``client_id`` by a principal who does not serve it answers like an unknown client (404)."""
    if not Scope.of(principal).sees_client(client_id):
        raise NoSuchClient(f"no client {client_id}", details={"client": client_id})


class CaseService:
    """Opens the units of work of the cases use cases for the HTTP layer and the CLI."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock,
                 window_rules: WindowRules | None = None, audit: AuditService | None = None) -> None:
        self.db, self.events, self.clock = db, events, clock
        self._legal_hold: list[ev.LegalHoldListener] = []
        self.window_rules = window_rules or WindowRules()
        # the audit trail: privileged acts in their own transaction, reads of personal data right after them
        self.audit = audit if audit is not None else AuditService(db=db, clock=clock)

    def add_legal_hold_listener(self, listener: ev.LegalHoldListener) -> None:
        """Call ``listener(session, request)`` in the transaction that asks for a legal hold on a case's
        recordings (a disputed call): the recordings feature hooks in here, wired by ``app.compose``."""
        self._legal_hold.append(listener)

    async def upsert(self, principal: Principal, *, client_id: str, data: CaseIn,
                     actor: Actor | None = None) -> UpsertResult:
        """PUT a case; retried once when a concurrent request created it first. Holds the import releases
        are audited (``hold.released``); a person's import (an admin) keeps legal hard stops."""
        require_client(principal, client_id)
        who = _actor(principal, actor)
        for attempt in (1, 2):
            try:
                async with self.db.begin() as s:
                    result = await upsert_case(s, self.events, client_id=client_id, data=data,
                                               now=self.clock.now(), by=principal.user_id, role=str(principal.role),
                                               by_person=not is_case_system(principal),
                                               legal_hold=self._legal_hold)
                    await self._audit_import(s, who, result)
                return result
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def bulk_upsert(self, principal: Principal, *, client_id: str, items: Sequence[Any],
                          batch: str | None = None, default_region: str = "CN",
                          chunk: int = BULK_CHUNK, actor: Actor | None = None) -> list[ItemResult]:
        """Validate each item alone and upsert the good ones, one transaction per chunk, one savepoint
        per item: a bad item is reported and never undoes the good ones."""
        require_client(principal, client_id)
        who = _actor(principal, actor)
        how = _Importer(by=principal.user_id, role=str(principal.role),
                        by_person=not is_case_system(principal), actor=who)
        results: list[ItemResult] = []
        good: list[tuple[ItemResult, CaseIn]] = []
        for index, raw in enumerate(items):
            ext = raw.get("external_id") if isinstance(raw, dict) else None
            item = ItemResult(index, str(ext) if ext is not None else None, "invalid")
            results.append(item)
            if isinstance(raw, dict) and batch is not None and "batch" not in raw:
                raw = {**raw, "batch": batch}
            try:
                data = CaseIn.model_validate(raw, context={"default_region": default_region})
            except ValidationError as exc:
                item.errors = [{"field": ".".join(str(p) for p in e["loc"]) or "(item)",
                                "message": e["msg"]} for e in exc.errors(include_url=False, include_input=False)]
                continue
            good.append((item, data))
        for start in range(0, len(good), chunk):
            await self._chunk(client_id, good[start:start + chunk], how)
        return results

    async def upsert_many(self, *, client_id: str, cases: Sequence[CaseIn], by: str, chunk: int = BULK_CHUNK,
                          progress: Callable[[int], None] | None = None,
                          actor: Actor | None = None) -> list[ItemResult]:
        """Upsert already validated cases, one transaction per chunk (the CLI import: the case system's own
        import, which may lift the hard stops it set)."""
        how = _Importer(by=by, role="cli", by_person=False, actor=actor or Actor(user_id=by, role="cli"))
        items = [(ItemResult(i, c.external_id, "error"), c) for i, c in enumerate(cases)]
        for start in range(0, len(items), chunk):
            await self._chunk(client_id, items[start:start + chunk], how)
            if progress is not None:
                progress(min(start + chunk, len(items)))
        return [item for item, _ in items]

    async def _chunk(self, client_id: str, part: list[tuple[ItemResult, CaseIn]], how: _Importer) -> None:
        async with self.db.begin() as s:
            now = self.clock.now()
            for item, data in part:
                try:
                    async with s.begin_nested():
                        res = await upsert_case(s, self.events, client_id=client_id, data=data, now=now,
                                                by=how.by, role=how.role, by_person=how.by_person,
                                                legal_hold=self._legal_hold)
                        await self._audit_import(s, how.actor, res)
                except IntegrityError as exc:
                    item.result, item.errors = "error", [{"field": "(item)", "message": str(exc.orig)[:200]}]
                    continue
                item.result, item.case_id = res.result, res.case_id

    async def _audit_import(self, s: AsyncSession, actor: Actor, result: UpsertResult) -> None:
        if not result.released:
            return
        case = await get_case(s, result.case_id)
        await self.audit.record(s, actor=actor, action="hold.released", target_type="case", target_id=case.id,
                                client_id=case.client_id, reason="released by the case system's import",
                                before={"holds": list(result.before)},
                                after={"status": case.status, "released": [hold_snapshot(h) for h in result.released]})

    async def _audit_read(self, actor: Actor, action: str, case: Case, **after: Any) -> None:
        """One audit entry for one read of a case's personal data (after the read, before the answer)."""
        async with self.db.begin() as s:
            await self.audit.record(s, actor=actor, action=action, target_type="case", target_id=case.id,
                                    client_id=case.client_id, after={"external_id": case.external_id, **after})

    async def read(self, principal: Principal, case_id: str, *,
                   actor: Actor | None = None) -> tuple[Case, list[CaseContact], list[CaseHold]]:
        """``get``, as a read of the case's personal data by ``principal`` (audited: ``case.read``)."""
        found = await self.get(principal, case_id)
        await self._audit_read(_actor(principal, actor), "case.read", found[0], numbers=len(found[1]))
        return found

    async def get(self, principal: Principal, case_id: str) -> tuple[Case, list[CaseContact], list[CaseHold]]:
        """A case with its numbers and active holds (unaudited: the answer of a write; reads use ``read``)."""
        async with self.db.read() as s:
            case = await visible_case(s, principal, case_id)
            contacts = list((await s.scalars(select(CaseContact).where(CaseContact.case_id == case_id)
                                             .order_by(CaseContact.number))).all())
            return case, contacts, await active_holds(s, case_id)

    async def page(self, principal: Principal, q: CaseQuery, *, actor: Actor | None = None
                   ) -> tuple[list[tuple[Case, list[CaseContact], list[CaseHold]]], str | None]:
        """One page of the cases ``principal`` may see (``auth.scope``), newest first, with their numbers and
        active holds, and the next page's cursor. A read of personal data: audited (``case.listed``), one
        entry per client in the page, naming its cases."""
        scope = Scope.of(principal)
        agent = principal.user_id if q.agent == "me" else q.agent
        stmt = where_equal(select(Case).where(scope.case_clause(Case.client_id, Case.team, Case.assigned_agent,
                                                                pooled_clause(Case.client_id),
                                                                handed_clause(Case.id))),
                           (Case.client_id, q.client), (Case.status, q.status), (Case.assigned_agent, agent),
                           (Case.team, q.team), (Case.batch_id, q.batch))
        if q.cursor:
            stmt = stmt.where(after(Case.created_at, Case.id, decode_cursor(q.cursor)))
        stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(q.limit)
        async with self.db.read() as s:
            cases = list((await s.scalars(stmt)).all())
            ids = [c.id for c in cases]
            numbers: dict[str, list[CaseContact]] = {i: [] for i in ids}
            holds: dict[str, list[CaseHold]] = {i: [] for i in ids}
            if ids:
                for contact in (await s.scalars(select(CaseContact).where(CaseContact.case_id.in_(ids))
                                                .order_by(CaseContact.number))).all():
                    numbers[contact.case_id].append(contact)
                for hold in (await s.scalars(select(CaseHold).where(CaseHold.case_id.in_(ids),
                                                                    CaseHold.released_at.is_(None))
                                             .order_by(CaseHold.applied_at, CaseHold.id))).all():
                    holds[hold.case_id].append(hold)
        nxt = encode_cursor(cases[-1].created_at, cases[-1].id) if len(cases) == q.limit else None
        by_client: dict[str, list[str]] = {}
        for c in cases:
            by_client.setdefault(c.client_id, []).append(c.id)
        if by_client:
            who = _actor(principal, actor)
            filters = q.model_dump(mode="json", exclude_defaults=True)
            async with self.db.begin() as s:
                for client_id, ids in sorted(by_client.items()):
                    await self.audit.record(s, actor=who, action="case.listed", target_type="case_list",
                                            target_id=f"{len(ids)} cases", client_id=client_id,
                                            after={"case_ids": ids, "filters": filters})
        return [(c, numbers[c.id], holds[c.id]) for c in cases], nxt

    async def find(self, principal: Principal, *, client_id: str, external_id: str) -> Case:
        """The case of a client by external id; NoSuchCase otherwise (also when the caller may not see it)."""
        async with self.db.read() as s:
            case = await find_case(s, client_id=client_id, external_id=external_id)
            visible = case is not None and await sees(s, principal, case)
        if case is None or not visible:
            raise NoSuchCase(f"no case {external_id} for client {client_id}",
                             details={"client": client_id, "external_id": external_id})
        return case

    async def hold(self, principal: Principal, case_id: str, *, reason: str, source: str = "case_system",
                   note: str | None = None, actor: Actor | None = None) -> CaseHold | None:
        """Apply a hold now: it takes effect for every dial not yet originated (the gate reads it). A dispute
        also holds every recording of the case, in this transaction. Audited (``hold.applied``)."""
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            status = case.status
            hold = await hold_with_legal_hold(s, self.events, case, reason=reason, source=source,
                                              by=principal.user_id, role=str(principal.role), now=self.clock.now(),
                                              listeners=self._legal_hold, note=note)
            if hold is not None:
                await self.audit.record(s, actor=_actor(principal, actor), action="hold.applied", target_type="case",
                                        target_id=case.id, client_id=case.client_id, reason=note,
                                        before={"status": status},
                                        after={"status": case.status, "hold": hold_snapshot(hold)})
        return hold

    async def release(self, principal: Principal, case_id: str, *, reason: str, actor: Actor | None = None,
                      why: str | None = None) -> list[CaseHold]:
        """Release the case's active holds with ``reason`` (audited: ``hold.released``, with ``why``).

        A legal hard stop the case system set is lifted only by the case system (an integration) or by two
        people: anyone else gets 409 ``two-person-rule`` and nothing changes.
        """
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            current = await active_holds(s, case.id)
            if not is_case_system(principal) and any(h.reason == reason and is_hard_stop(h) for h in current):
                raise TwoPersonRule(f"the {reason} hold was set by the case system: only the case system lifts it, "
                                    "or two people (one asks with a reason, a manager approves)",
                                    request={"kind": "case_hold", "case_id": case.id, "hold_reason": reason})
            status = case.status
            released = await release_holds(s, self.events, case, by=principal.user_id, now=self.clock.now(),
                                           reason=reason)
            if released:
                await self.audit.record(s, actor=_actor(principal, actor), action="hold.released", target_type="case",
                                        target_id=case.id, client_id=case.client_id, reason=why,
                                        before={"status": status, "holds": [hold_snapshot(h) for h in current]},
                                        after={"status": case.status,
                                               "released": [hold_snapshot(h) for h in released]})
        return released

    async def set_status(self, principal: Principal, case_id: str, status: str, *, actor: Actor | None = None,
                         reason: str | None = None) -> Case:
        """Close, mark paid or reopen (audited when it changes: ``case.status_changed``)."""
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            before = case.status
            await set_status(s, self.events, case, status=status, now=self.clock.now())
            if case.status != before:
                await self.audit.record(s, actor=_actor(principal, actor), action="case.status_changed",
                                        target_type="case", target_id=case.id, client_id=case.client_id,
                                        reason=reason, before={"status": before}, after={"status": case.status})
        return case

    async def assign(self, principal: Principal, case_id: str, *, agent: str | None, team: str | None,
                     actor: Actor | None = None, reason: str | None = None) -> Case:
        """Assign to an agent and team (audited when it changes: ``case.assigned``)."""
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            own_team = Scope.of(principal).team
            if own_team is not None and team != own_team:
                raise OutsideTeam(f"a supervisor of team {own_team} assigns only within it",
                                  details={"team": team, "own_team": own_team})
            before = {"assigned_agent": case.assigned_agent, "team": case.team}
            await assign(s, self.events, case, agent=agent, team=team, now=self.clock.now())
            after = {"assigned_agent": case.assigned_agent, "team": case.team}
            if after != before:
                await self.audit.record(s, actor=_actor(principal, actor), action="case.assigned", target_type="case",
                                        target_id=case.id, client_id=case.client_id, reason=reason, before=before,
                                        after=after)
        return case

    async def number_status(self, principal: Principal, case_id: str, *, number: str, status: str | None, source: str,
                            third_party_objected: bool | None = None, zone: str | None = None,
                            actor: Actor | None = None, reason: str | None = None) -> CaseContact:
        """Change a number's status / objection / stated zone (audited when it changes: ``case_number.changed``).

        A ``do_not_call`` number goes back to ``valid`` only by the case system (an integration) or by two
        people: anyone else gets 409 ``two-person-rule`` and nothing changes.
        """
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            if case.status in ENDED_STATUSES and status == "valid":
                raise CaseClosed("the case is closed", details={"case_id": case_id})
            current = (await s.scalars(select(CaseContact).where(CaseContact.case_id == case.id,
                                                                 CaseContact.number == number))).first()
            before = number_snapshot(current) if current is not None else None
            if (current is not None and current.status == "do_not_call" and status == "valid"
                    and not is_case_system(principal)):
                raise TwoPersonRule(f"{number} is marked do_not_call: only the case system sets it back to valid, "
                                    "or two people (one asks with a reason, a manager approves)",
                                    request={"kind": "do_not_call_number", "case_id": case.id, "number": number})
            row = await set_number_status(s, self.events, case, number=number, status=status, source=source,
                                          now=self.clock.now(), third_party_objected=third_party_objected,
                                          zone=zone)
            after = number_snapshot(row)
            if after != before:
                await self.audit.record(s, actor=_actor(principal, actor), action="case_number.changed",
                                        target_type="case", target_id=case.id, client_id=case.client_id,
                                        reason=reason, before=before, after=after)
        return row

    async def add_window(self, principal: Principal, case_id: str, *, scope: str, number: str | None,
                         weekdays: Sequence[int], start: Any, end: Any, zone: str, expires_at: datetime | None,
                         call_id: str | None) -> Any:
        """Record an agreed window with its evidence (see ``cases.windows``)."""
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            window = await add_window(s, self.events, case, scope=scope, number=number, weekdays=weekdays,
                                      start=start, end=end, zone=zone, expires_at=expires_at,
                                      recorded_by=principal.user_id, role=principal.role.value, call_id=call_id,
                                      now=self.clock.now(),
                                      rules=self.window_rules)
        return window

    async def windows(self, principal: Principal, case_id: str) -> list[Any]:
        """Active agreed windows of a case."""
        async with self.db.read() as s:
            await visible_case(s, principal, case_id)
            return list(await list_windows(s, case_id, now=self.clock.now()))

    async def revoke_window(self, principal: Principal, case_id: str, window_id: str) -> Any:
        """Revoke an agreed window."""
        async with self.db.begin() as s:
            case = await visible_case(s, principal, case_id, lock=True)
            window = await revoke_window(s, self.events, case, window_id=window_id, now=self.clock.now())
        return window

    async def dispose(self, principal: Principal, call_id: str, data: DispositionIn) -> tuple[Disposition, list[str]]:
        """Record a call's outcome and apply the disposition policy; returns it and the holds it applied."""
        async with self.db.begin() as s:
            return await record_disposition(s, self.events, principal=principal, call_id=call_id, data=data,
                                            now=self.clock.now(), legal_hold=self._legal_hold)

    async def contacts(self, principal: Principal, case_id: str, *, actor: Actor | None = None) -> list[ContactLog]:
        """The case's contact log, oldest first (NoSuchCase when there is no such case); audited
        (``case.contacts_read``). An agent reads it only while the case is assigned to it (``visible_case``:
        the walls of ``auth.scope``, no pool); which recordings it may hear is the recordings feature's rule,
        applied when it asks for the audio."""
        async with self.db.read() as s:
            case = await visible_case(s, principal, case_id)
            _case, rows = await contacts(s, case_id)
        await self._audit_read(_actor(principal, actor), "case.contacts_read", case, entries=len(rows))
        return rows

    async def evidence(self, principal: Principal, case_id: str, *, actor: Actor | None = None,
                       export: bool = False) -> tuple[Evidence, list[ContactLog]]:
        """Evidence of valid collection now, with the whole contact log (for the export); audited
        (``case.evidence_read``, or ``case.evidence_exported`` for the zip)."""
        async with self.db.read() as s:
            case = await visible_case(s, principal, case_id)
            found = await evidence(s, case_id, now=self.clock.now())
            _case, rows = await contacts(s, case_id)
        await self._audit_read(_actor(principal, actor), "case.evidence_exported" if export else "case.evidence_read",
                               case, entries=len(rows), format="zip" if export else "json")
        return found, rows
