"""Holds on a case: apply (idempotent per reason), release, and the case status they imply."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import events as ev
from cases.errors import BadHoldReason
from cases.models import (
    ENDED_STATUSES,
    HARD_STOP_REASONS,
    HOLD_REASONS,
    HOLD_SOURCES,
    LEGAL_HOLD_REASONS,
    Case,
    CaseHold,
)
from core.events import DomainEvent, EventLog


async def active_holds(session: AsyncSession, case_id: str) -> list[CaseHold]:
    """The holds of a case not yet released, oldest first."""
    rows = await session.scalars(select(CaseHold).where(CaseHold.case_id == case_id,
                                                        CaseHold.released_at.is_(None))
                                 .order_by(CaseHold.applied_at, CaseHold.id))
    return list(rows.all())


async def holds_for(session: AsyncSession, case_id: str) -> list[str]:
    """The reasons of a case's active holds (sorted, unique); the gate re-checks these at answer time."""
    rows = await session.scalars(select(CaseHold.reason).where(CaseHold.case_id == case_id,
                                                               CaseHold.released_at.is_(None)))
    return sorted(set(rows.all()))


def is_hard_stop(hold: CaseHold) -> bool:
    """A legal hard stop: set by the case system for a reason only it, or two people, may lift."""
    return hold.source == "case_system" and hold.reason in HARD_STOP_REASONS


def hold_snapshot(hold: CaseHold) -> dict[str, Any]:
    """The audited form of a hold."""
    return {"id": hold.id, "reason": hold.reason, "source": hold.source, "note": hold.note,
            "applied_by": hold.applied_by, "applied_at": hold.applied_at.isoformat(),
            "released_by": hold.released_by,
            "released_at": hold.released_at.isoformat() if hold.released_at else None}


def refresh_status(case: Case, has_holds: bool) -> None:
    """active <-> on_hold follows the holds; closed, paid, returned and recalled stay as they are."""
    if case.status in ENDED_STATUSES:
        return
    case.status = "on_hold" if has_holds else "active"


async def apply_hold(session: AsyncSession, events: EventLog, case: Case, *, reason: str, source: str,
                     by: str, now: datetime, note: str | None = None) -> CaseHold | None:
    """Put a hold on ``case``; None (and no event) when a hold with that reason is already active."""
    if reason not in HOLD_REASONS:
        raise BadHoldReason(f"unknown hold reason {reason!r}", details={"allowed": list(HOLD_REASONS)})
    if source not in HOLD_SOURCES:
        raise ValueError(f"unknown hold source {source!r}")
    current = await active_holds(session, case.id)
    if any(h.reason == reason for h in current):
        return None
    hold = CaseHold(case_id=case.id, reason=reason, note=note, source=source, applied_at=now, applied_by=by)
    session.add(hold)
    refresh_status(case, True)
    case.updated_at = now
    await session.flush()
    await events.record(session, DomainEvent(
        type=ev.HOLD_APPLIED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
        payload=ev.case_payload(case, reason=reason, source=source, hold_id=hold.id)))
    return hold


async def release_holds(session: AsyncSession, events: EventLog, case: Case, *, by: str, now: datetime,
                        reason: str | None = None, source: str | None = None) -> list[CaseHold]:
    """Release the active holds with ``reason`` (and/or ``source``); returns those released."""
    current = await active_holds(session, case.id)
    released = [h for h in current if (reason is None or h.reason == reason)
                and (source is None or h.source == source)]
    for hold in released:
        hold.released_at, hold.released_by = now, by
    if not released:
        return []
    refresh_status(case, len(released) < len(current))
    case.updated_at = now
    await session.flush()
    for hold in released:
        await events.record(session, DomainEvent(
            type=ev.HOLD_RELEASED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
            payload=ev.case_payload(case, reason=hold.reason, source=hold.source, hold_id=hold.id)))
    return released


async def ask_legal_hold(session: AsyncSession, events: EventLog, case: Case, *, reason: str, by: str, role: str,
                         now: datetime, listeners: Sequence[ev.LegalHoldListener],
                         call_id: str | None = None) -> None:
    """Ask, in the caller's transaction, for a legal hold on every recording of ``case`` (event
    ``recordings.legal_hold_requested``, then each listener: the recordings feature, wired by ``app.compose``)."""
    await events.record(session, DomainEvent(
        type=ev.LEGAL_HOLD_REQUESTED, case_id=case.id, call_id=call_id, client_id=case.client_id, team=case.team,
        occurred_at=now, payload={"case_id": case.id, "call_id": call_id, "reason": reason}))
    request = ev.LegalHoldRequested(case_id=case.id, call_id=call_id, reason=reason, by=by, at=now, role=role)
    for listener in listeners:
        await listener(session, request)


async def hold_with_legal_hold(session: AsyncSession, events: EventLog, case: Case, *, reason: str, source: str,
                               by: str, role: str, now: datetime, listeners: Sequence[ev.LegalHoldListener],
                               note: str | None = None) -> CaseHold | None:
    """``apply_hold``, and for a reason that asks for it (a dispute), a legal hold on the case's recordings in
    the same transaction, whoever sets it (the case system, its import, a supervisor)."""
    hold = await apply_hold(session, events, case, reason=reason, source=source, by=by, now=now, note=note)
    if hold is not None and reason in LEGAL_HOLD_REASONS:
        await ask_legal_hold(session, events, case, reason=reason, by=by, role=role, now=now, listeners=listeners)
    return hold
