"""Two-person releases: one person asks (with a reason), a different person of the same client approves
(with a reason) and the release is carried out in that same transaction, or rejects it.

What may be released this way:

- ``case_hold``: a case's hold, above all a legal hard stop the case system set (deceased, suspected_fraud,
  attorney, bankruptcy, dispute, cease_request), which no single person may lift (``DELETE`` of such a hold
  by a person is 409 ``two-person-rule``); the case system itself still lifts it directly;
- ``do_not_call_number``: a case number marked ``do_not_call`` set back to ``valid``;
- ``recording_legal_hold``: a recording's legal hold (retention applies again).

Supervisors and managers ask; managers and admins decide; the approver is never the requester. A request
belongs to its target's client (and team): another client's request answers 404, exactly like a missing
one. A request is used once, and expires when not decided within ``approvals.request_ttl_days``. Every
step (request, approval, rejection) and the release itself is in the audit trail, in the transaction of
the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from approvals.errors import (
    AlreadyRequested,
    NoSuchReleaseRequest,
    NothingToRelease,
    RequestDecided,
    RequestExpired,
    SamePerson,
)
from approvals.models import ReleaseRequest
from approvals.schemas import (
    CaseHoldRelease,
    NumberRelease,
    RecordingHoldRelease,
    ReleaseRequestOut,
    ReleaseRequestPage,
    ReleaseRequestQuery,
    ReleaseTarget,
    request_out,
)
from audit.service import Actor, AuditService
from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from cases.errors import CaseClosed, NoSuchContact
from cases.holds import active_holds, hold_snapshot, release_holds
from cases.models import ENDED_STATUSES, CaseContact
from cases.queries import get_case
from cases.service import number_snapshot, set_number_status, visible_case
from core.clock import Clock
from core.events import EventLog
from core.pagination import after, decode_cursor, encode_cursor, where_equal
from db.base import new_id
from db.engine import Database
from recordings.access import in_scope
from recordings.errors import NoSuchRecording
from recordings.models import Recording
from recordings.retention import hold_snapshot as recording_hold_snapshot
from recordings.retention import release_legal_hold

#: who may ask for a release, decide one, and read the requests
REQUESTERS = (Role.SUPERVISOR, Role.MANAGER)
DECIDERS = (Role.MANAGER, Role.ADMIN)
READERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
#: ``status_source`` of a number set back to valid by an approved request
APPROVED_SOURCE = "approval"

HoldsReleased = Callable[[], Awaitable[object]]
"""Called after a recording's legal hold was released and committed (pushes it to the store at once)."""


def subject_of(target: ReleaseTarget) -> str:
    """What a request releases, as one key (at most one pending request per key)."""
    if isinstance(target, CaseHoldRelease):
        return f"case_hold:{target.case_id}:{target.hold_reason}"
    if isinstance(target, NumberRelease):
        return f"do_not_call_number:{target.case_id}:{target.number}"
    return f"recording_legal_hold:{target.recording_id}"


class ApprovalService:
    """Release requests: ask, list, read, approve (and carry out), reject."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, audit: AuditService, ttl: timedelta,
                 holds_released: HoldsReleased | None = None) -> None:
        self.db, self.events, self.clock, self.audit, self.ttl = db, events, clock, audit, ttl
        self.holds_released = holds_released

    # -- asking ---------------------------------------------------------------------------------
    async def request(self, principal: Principal, target: ReleaseTarget, *, actor: Actor) -> ReleaseRequestOut:
        """Ask for a release; 404 for a target the caller may not see, 409 ``nothing-to-release`` when it is
        not held, 409 ``release-already-requested`` while another request for it is pending."""
        principal.require(*REQUESTERS)
        now = self.clock.now()
        async with self.db.begin() as s:
            row = ReleaseRequest(id=new_id(), kind=target.kind, subject=subject_of(target), state="pending",
                                 reason=target.reason, requested_by=principal.user_id,
                                 requested_role=str(principal.role), requested_at=now, expires_at=now + self.ttl)
            await self._bind_target(s, principal, target, row)
            pending = await s.scalar(select(ReleaseRequest.id).where(
                ReleaseRequest.subject == row.subject, ReleaseRequest.state == "pending",
                ReleaseRequest.expires_at > now))
            if pending is not None:
                raise AlreadyRequested("a request for this release is already pending",
                                       details={"request_id": pending})
            s.add(row)
            await s.flush()
            await self.audit.record(s, actor=actor, action="release_request.created", target_type="release_request",
                                    target_id=row.id, client_id=row.client_id, reason=row.reason,
                                    after=_snapshot(row, now))
            return request_out(row, now)

    async def _bind_target(self, s: AsyncSession, principal: Principal, target: ReleaseTarget,
                           row: ReleaseRequest) -> None:
        """Check the target is the caller's and held; copy its client, team and identity onto ``row``."""
        if isinstance(target, RecordingHoldRelease):
            rec = await _recording(s, self.db, target.recording_id)
            if rec is None or not in_scope(Scope.of(principal), rec):
                raise NoSuchRecording(f"no recording {target.recording_id}",
                                      details={"recording_id": target.recording_id})
            if not rec.legal_hold:
                raise NothingToRelease("the recording is not under legal hold", details={"recording_id": rec.id})
            row.client_id, row.team, row.recording_id, row.case_id = rec.client_id, rec.team, rec.id, rec.case_id
            return
        case = await visible_case(s, principal, target.case_id, lock=True)
        row.client_id, row.team, row.case_id = case.client_id, case.team, case.id
        if isinstance(target, CaseHoldRelease):
            if not any(h.reason == target.hold_reason for h in await active_holds(s, case.id)):
                raise NothingToRelease(f"the case has no active {target.hold_reason} hold",
                                       details={"case_id": case.id, "hold_reason": target.hold_reason})
            row.hold_reason = target.hold_reason
            return
        contact = await _contact(s, case.id, target.number)
        if contact.status != "do_not_call":
            raise NothingToRelease(f"{target.number} is not marked do_not_call",
                                   details={"case_id": case.id, "number": target.number, "status": contact.status})
        row.number = target.number

    # -- reading --------------------------------------------------------------------------------
    async def list(self, principal: Principal, q: ReleaseRequestQuery) -> ReleaseRequestPage:
        """The caller's clients' (and team's) requests, newest first, filtered and paged by cursor."""
        principal.require(*READERS)
        now = self.clock.now()
        stmt = where_equal(_scoped(principal), (ReleaseRequest.kind, q.kind), (ReleaseRequest.case_id, q.case_id),
                           (ReleaseRequest.recording_id, q.recording_id))
        if q.state == "pending":
            stmt = stmt.where(ReleaseRequest.state == "pending", ReleaseRequest.expires_at > now)
        elif q.state == "expired":
            stmt = stmt.where(ReleaseRequest.state == "pending", ReleaseRequest.expires_at <= now)
        elif q.state is not None:
            stmt = stmt.where(ReleaseRequest.state == q.state)
        if q.cursor:
            stmt = stmt.where(after(ReleaseRequest.requested_at, ReleaseRequest.id, decode_cursor(q.cursor)))
        stmt = stmt.order_by(ReleaseRequest.requested_at.desc(), ReleaseRequest.id.desc()).limit(q.limit)
        async with self.db.read() as s:
            rows = list((await s.scalars(stmt)).all())
        nxt = encode_cursor(rows[-1].requested_at, rows[-1].id) if len(rows) == q.limit else None
        return ReleaseRequestPage(items=[request_out(r, now) for r in rows], next_cursor=nxt)

    async def get(self, principal: Principal, request_id: str) -> ReleaseRequestOut:
        """One request of the caller's clients (and team); 404 otherwise."""
        principal.require(*READERS)
        async with self.db.read() as s:
            row = await self._visible(s, principal, request_id)
        return request_out(row, self.clock.now())

    async def _visible(self, s: AsyncSession, principal: Principal, request_id: str, *,
                       lock: bool = False) -> ReleaseRequest:
        stmt = _scoped(principal).where(ReleaseRequest.id == request_id)
        row = (await s.scalars(self.db.for_update(stmt) if lock else stmt)).first()
        if row is None:
            raise NoSuchReleaseRequest(f"no release request {request_id}", details={"request_id": request_id})
        return row

    # -- deciding -------------------------------------------------------------------------------
    async def approve(self, principal: Principal, request_id: str, *, reason: str,
                      actor: Actor) -> ReleaseRequestOut:
        """Approve and carry out the release in one transaction; 409 ``same-person`` for the requester,
        ``release-request-decided`` / ``release-request-expired`` for a used or stale request,
        ``nothing-to-release`` when the stop is already gone (the request then stays pending)."""
        principal.require(*DECIDERS)
        now = self.clock.now()
        async with self.db.begin() as s:
            row = await self._visible(s, principal, request_id, lock=True)
            _check_open(row, now)
            if row.requested_by == principal.user_id:
                raise SamePerson("the approver must be another person than the requester",
                                 details={"requested_by": row.requested_by})
            await self._carry_out(s, principal, row, reason=reason, actor=actor, now=now)
            out = await self._decide(s, principal, row, "approved", reason=reason, actor=actor, now=now)
        if row.kind == "recording_legal_hold" and self.holds_released is not None:
            await self.holds_released()
        return out

    async def reject(self, principal: Principal, request_id: str, *, reason: str,
                     actor: Actor) -> ReleaseRequestOut:
        """Reject (nothing is released); the requester may withdraw their own request this way."""
        principal.require(*DECIDERS)
        now = self.clock.now()
        async with self.db.begin() as s:
            row = await self._visible(s, principal, request_id, lock=True)
            _check_open(row, now)
            return await self._decide(s, principal, row, "rejected", reason=reason, actor=actor, now=now)

    async def _decide(self, s: AsyncSession, principal: Principal, row: ReleaseRequest, state: str, *,
                      reason: str, actor: Actor, now: datetime) -> ReleaseRequestOut:
        before = _snapshot(row, now)
        row.state, row.decided_by, row.decided_role = state, principal.user_id, str(principal.role)
        row.decision_reason, row.decided_at = reason, now
        await s.flush()
        await self.audit.record(s, actor=actor, action=f"release_request.{state}", target_type="release_request",
                                target_id=row.id, client_id=row.client_id, reason=reason, before=before,
                                after=_snapshot(row, now))
        return request_out(row, now)

    async def _carry_out(self, s: AsyncSession, principal: Principal, row: ReleaseRequest, *, reason: str,
                         actor: Actor, now: datetime) -> None:
        """The release itself, audited as the act it is (with the request it carries out)."""
        by = {"release_request": row.id, "requested_by": row.requested_by, "request_reason": row.reason,
              "approved_by": principal.user_id}
        if row.kind == "recording_legal_hold":
            rec = await _recording(s, self.db, row.recording_id or "")
            if rec is None or not rec.legal_hold:
                raise NothingToRelease("the recording is no longer under legal hold",
                                       details={"recording_id": row.recording_id})
            before = recording_hold_snapshot(rec)
            await release_legal_hold(s, rec, who=principal, remote=actor.address, events=self.events, now=now,
                                     detail=f"release request {row.id} of {row.requested_by}")
            await self.audit.record(s, actor=actor, action="recording.legal_hold_released", target_type="recording",
                                    target_id=rec.id, client_id=rec.client_id, reason=reason, before=before,
                                    after={**recording_hold_snapshot(rec), **by})
            return
        case = await get_case(s, row.case_id or "", lock=True)
        if row.kind == "case_hold":
            holds = await active_holds(s, case.id)
            status = case.status
            released = await release_holds(s, self.events, case, by=principal.user_id, now=now,
                                           reason=row.hold_reason)
            if not released:
                raise NothingToRelease(f"the case has no active {row.hold_reason} hold any more",
                                       details={"case_id": case.id, "hold_reason": row.hold_reason})
            await self.audit.record(s, actor=actor, action="hold.released", target_type="case", target_id=case.id,
                                    client_id=case.client_id, reason=reason,
                                    before={"status": status, "holds": [hold_snapshot(h) for h in holds]},
                                    after={"status": case.status, "released": [hold_snapshot(h) for h in released],
                                           **by})
            return
        if case.status in ENDED_STATUSES:
            raise CaseClosed("the case is closed", details={"case_id": case.id})
        contact = await _contact(s, case.id, row.number or "")
        if contact.status != "do_not_call":
            raise NothingToRelease(f"{row.number} is no longer marked do_not_call",
                                   details={"case_id": case.id, "number": row.number, "status": contact.status})
        before_number = number_snapshot(contact)
        await set_number_status(s, self.events, case, number=contact.number, status="valid", source=APPROVED_SOURCE,
                                now=now)
        await self.audit.record(s, actor=actor, action="case_number.changed", target_type="case",
                                target_id=case.id, client_id=case.client_id, reason=reason, before=before_number,
                                after={**number_snapshot(contact), **by})


def _scoped(principal: Principal) -> Select[ReleaseRequest]:
    """The requests ``principal`` may see: its clients' (a global admin: all), and a team supervisor its team's."""
    scope = Scope.of(principal)
    stmt = scope.where_client(select(ReleaseRequest), ReleaseRequest.client_id)
    if scope.team is not None:
        stmt = stmt.where(ReleaseRequest.team == scope.team)
    return stmt


def _check_open(row: ReleaseRequest, now: datetime) -> None:
    if row.state != "pending":
        raise RequestDecided(f"the request was already {row.state}",
                             details={"state": row.state, "decided_by": row.decided_by})
    if row.expires_at <= now:
        raise RequestExpired("the request expired before it was decided; ask again",
                             details={"expires_at": row.expires_at.isoformat()})


def _snapshot(row: ReleaseRequest, now: datetime) -> dict[str, Any]:
    return request_out(row, now).model_dump(mode="json")


async def _contact(s: AsyncSession, case_id: str, number: str) -> CaseContact:
    row = (await s.scalars(select(CaseContact).where(CaseContact.case_id == case_id,
                                                     CaseContact.number == number))).first()
    if row is None:
        raise NoSuchContact(f"{number} is not a number of case {case_id}", details={"number": number})
    return row


async def _recording(s: AsyncSession, db: Database, recording_id: str) -> Recording | None:
    return (await s.execute(db.for_update(select(Recording).where(Recording.id == recording_id)))).scalar()
