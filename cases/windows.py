"""Calling windows agreed with the debtor or a third party, per number or for the whole case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import events as ev
from cases.errors import NoSuchContact, NoSuchWindow
from cases.models import AgreedWindow, Case, CaseContact
from core.errors import ValidationFailed
from core.events import DomainEvent, EventLog


async def add_window(session: AsyncSession, events: EventLog, case: Case, *, scope: str, number: str | None,
                     weekdays: Sequence[int], start: time, end: time, zone: str, expires_at: datetime | None,
                     recorded_by: str, call_id: str | None, now: datetime) -> AgreedWindow:
    """Record an agreed window; ``number`` is required for (and only for) scope ``number``."""
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
    if number is not None:
        known = (await session.scalars(select(CaseContact.id).where(CaseContact.case_id == case.id,
                                                                    CaseContact.number == number))).first()
        if known is None:
            raise NoSuchContact(f"{number} is not a number of the case", details={"number": number})
    window = AgreedWindow(case_id=case.id, scope=scope, number=number, weekdays=sorted(set(weekdays)),
                          start_local=start, end_local=end, zone=zone, expires_at=expires_at,
                          recorded_by=recorded_by, agreed_on_call_id=call_id, created_at=now)
    session.add(window)
    case.updated_at = now
    await session.flush()
    await events.record(session, DomainEvent(
        type=ev.CASE_UPDATED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
        payload=ev.case_payload(case, change="agreed_window", window_id=window.id, scope=scope)))
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
