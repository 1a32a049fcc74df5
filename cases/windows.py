"""Calling windows agreed with the debtor or a third party, per number or for the whole case.

A window needs evidence: it comes from the case system (role ``integration``), or it names the call it was
agreed on, which must be an answered, recorded call with this case, made by the user recording the window,
that ended at most ``WindowRules.evidence_max_age`` ago. Every window expires, at most
``WindowRules.max_days`` after it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import events as ev
from cases.errors import (
    NoSuchContact,
    NoSuchWindow,
    WindowEvidenceRejected,
    WindowEvidenceRequired,
    WindowExpiryTooFar,
)
from cases.models import AgreedWindow, Case, CaseContact
from core.errors import ValidationFailed
from core.events import DomainEvent, EventLog
from dialer.models import Call
from recordings.models import Recording

#: the role whose windows are the case system's own (no call needed)
CASE_SYSTEM_ROLE = "integration"
#: recording states that prove the call was recorded (ingest under way, or stored)
_RECORDED = ("pending", "stored")


@dataclass(frozen=True, slots=True)
class WindowRules:
    """How fresh a window's evidence call must be, and how long a window may last."""

    evidence_max_age: timedelta = timedelta(minutes=30)
    max_days: int = 30


async def window_evidence(session: AsyncSession, case: Case, *, role: str, user: str, call_id: str | None,
                          now: datetime, rules: WindowRules) -> str:
    """``case_system`` or ``call``: the evidence of a window about to be recorded; 409 when there is none."""
    if role == CASE_SYSTEM_ROLE:
        return "case_system"
    if call_id is None:
        raise WindowEvidenceRequired(
            "an agreed window needs evidence: agreed_on_call_id, the answered and recorded call with this "
            "case on which the debtor agreed to it (or the case system sends it)",
            details={"case_id": case.id, "field": "agreed_on_call_id"})
    call = await session.get(Call, call_id)
    reason = None
    if call is None:
        reason = "no-such-call"
    elif call.case_id != case.id:
        reason = "other-case"
    elif call.agent_id != user:
        reason = "other-agent"
    elif call.answered_at is None:
        reason = "not-answered"
    elif call.ended_at is None:
        reason = "not-ended"
    elif now - call.ended_at > rules.evidence_max_age:
        reason = "too-old"
    elif (await session.scalar(select(Recording.state).where(Recording.call_id == call_id))) not in _RECORDED:
        reason = "not-recorded"
    if reason is not None:
        raise WindowEvidenceRejected(
            f"call {call_id} is not evidence of a window on case {case.id}: {_WHY[reason]}",
            details={"case_id": case.id, "call_id": call_id, "reason": reason,
                     "max_age_s": int(rules.evidence_max_age.total_seconds())})
    return "call"


_WHY = {
    "no-such-call": "there is no such call", "other-case": "the call was not with this case",
    "other-agent": "the call was made by another agent", "not-answered": "the call was not answered",
    "not-ended": "the call has not ended yet", "too-old": "the call ended too long ago",
    "not-recorded": "the call has no recording",
}


async def add_window(session: AsyncSession, events: EventLog, case: Case, *, scope: str, number: str | None,
                     weekdays: Sequence[int], start: time, end: time, zone: str, expires_at: datetime | None,
                     recorded_by: str, role: str, call_id: str | None, now: datetime,
                     rules: WindowRules = WindowRules()) -> AgreedWindow:
    """Record an agreed window with its evidence; ``number`` is required for (and only for) scope ``number``.

    Without ``expires_at`` the window lasts ``rules.max_days``; a later expiry is refused.
    """
    if scope not in ("number", "case"):
        raise ValidationFailed("scope must be 'number' or 'case'", details={"field": "scope"})
    if (scope == "number") != (number is not None):
        raise ValidationFailed("number is required for scope 'number' only", details={"field": "number"})
    if not weekdays or any(d not in range(7) for d in weekdays):
        raise ValidationFailed("weekdays are 0 (Monday) to 6", details={"field": "weekdays"})
    if start == end:
        raise ValidationFailed("an empty window", details={"field": "end"})
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {zone!r}", details={"field": "zone"}) from None
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValidationFailed("expires_at needs a UTC offset", details={"field": "expires_at"})
    latest = now + timedelta(days=rules.max_days)
    if expires_at is None:
        expires_at = latest
    elif expires_at > latest:
        raise WindowExpiryTooFar(f"an agreed window lasts at most {rules.max_days} days",
                                 details={"field": "expires_at", "latest": latest.isoformat()})
    elif expires_at <= now:
        raise ValidationFailed("expires_at is in the past", details={"field": "expires_at"})
    if number is not None:
        known = (await session.scalars(select(CaseContact.id).where(CaseContact.case_id == case.id,
                                                                    CaseContact.number == number))).first()
        if known is None:
            raise NoSuchContact(f"{number} is not a number of the case", details={"number": number})
    evidence = await window_evidence(session, case, role=role, user=recorded_by, call_id=call_id, now=now,
                                     rules=rules)
    window = AgreedWindow(case_id=case.id, scope=scope, number=number, weekdays=sorted(set(weekdays)),
                          start_local=start, end_local=end, zone=zone, expires_at=expires_at,
                          recorded_by=recorded_by, agreed_on_call_id=call_id, evidence=evidence,
                          created_at=now)
    session.add(window)
    case.updated_at = now
    await session.flush()
    await events.record(session, DomainEvent(
        type=ev.CASE_UPDATED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
        payload=ev.case_payload(case, change="agreed_window", window_id=window.id, scope=scope,
                                evidence=evidence)))
    return window


async def list_windows(session: AsyncSession, case_id: str, *, now: datetime | None = None) -> list[AgreedWindow]:
    """The case's windows not revoked (and, given ``now``, not expired)."""
    q = select(AgreedWindow).where(AgreedWindow.case_id == case_id, AgreedWindow.revoked_at.is_(None))
    rows = list((await session.scalars(q.order_by(AgreedWindow.created_at))).all())
    return [w for w in rows if now is None or w.expires_at is None or w.expires_at > now]


async def revoke_window(session: AsyncSession, events: EventLog, case: Case, *, window_id: str,
                        now: datetime) -> AgreedWindow:
    """Revoke an agreed window (kept for history)."""
    window = await session.get(AgreedWindow, window_id)
    if window is None or window.case_id != case.id or window.revoked_at is not None:
        raise NoSuchWindow(f"no active window {window_id}", details={"window_id": window_id})
    window.revoked_at = now
    case.updated_at = now
    await session.flush()
    await events.record(session, DomainEvent(
        type=ev.CASE_UPDATED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
        payload=ev.case_payload(case, change="agreed_window_revoked", window_id=window.id)))
    return window
