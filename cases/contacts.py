"""The contact log: one immutable row per call of a case (time, agent, number, outcome, recording).

Rows are write-once per field: a field, once set, is never changed. The row is created by whichever
comes first (the call's end, its disposition, its stored recording) and completed by the others.
A transferred call's row also names who talked to the customer, from when to when (``extra["agents"]``,
from the call's legs: written as each leg ends and when the call ends; a leg once ended never changes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import CaseContact, ContactLog
from dialer.models import Call, CallLeg


async def _row_for(session: AsyncSession, call: Call) -> ContactLog | None:
    if call.case_id is None:
        return None
    row = (await session.scalars(select(ContactLog).where(ContactLog.call_id == call.id))).first()
    if row is None:
        kind = call.number_kind
        if kind is None:
            kind = (await session.scalars(select(CaseContact.kind).where(
                CaseContact.case_id == call.case_id, CaseContact.number == call.number))).first()
        row = ContactLog(call_id=call.id, case_id=call.case_id, at=call.created_at, agent_id=call.agent_id,
                         number=call.number, number_kind=kind, connected=False,
                         extra={"direction": call.direction})
        session.add(row)
    return row


def _fill(row: ContactLog, call: Call) -> None:
    """Copy the call's facts into the row's still-empty fields."""
    if call.answered_at is not None and row.answered_at is None:
        row.answered_at = call.answered_at
        row.connected = True
    if call.ended_at is not None and row.ended_at is None:
        row.ended_at = call.ended_at
        row.end_reason = call.end_reason
        row.talk_seconds = call.talk_seconds


async def _agents(session: AsyncSession, call_id: str) -> list[dict[str, Any]]:
    """The people who talked to the customer of a transferred call, in leg order ([] without a transfer)."""
    legs = await session.scalars(select(CallLeg).where(CallLeg.call_id == call_id, CallLeg.answered_at.is_not(None))
                                 .order_by(CallLeg.seq))
    return [{"agent_id": leg.user_id, "number": leg.number, "role": leg.role, "answered_at": _iso(leg.answered_at),
             "ended_at": _iso(leg.ended_at), "talk_seconds": leg.talk_seconds} for leg in legs]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def record_contact(session: AsyncSession, call: Call) -> ContactLog | None:
    """Write (or complete) the contact-log row of ``call``; None for a call without a case.

    The dialer calls this in the transaction that ends the call, and transfers when a leg of it ends.
    """
    row = await _row_for(session, call)
    if row is None:
        return None
    _fill(row, call)
    agents = await _agents(session, call.id)
    if agents and (row.extra or {}).get("agents") != agents:
        row.extra = {**(row.extra or {}), "agents": agents}  # a new dict: the JSON column sees the change
    if call.outcome is not None and row.outcome is None:
        row.outcome = call.outcome
    await session.flush()
    return row


async def attach_recording(session: AsyncSession, call_id: str, recording_id: str, sha256: str) -> bool:
    """Put a stored recording's id and SHA-256 on its call's contact-log row (write-once).

    Called by the recordings feature in the transaction that marks the recording stored. Returns False
    when the call is unknown or has no case (nothing to attach to).
    """
    call = await session.get(Call, call_id)
    if call is None:
        return False
    row = await _row_for(session, call)
    if row is None:
        return False
    _fill(row, call)
    if row.recording_id is None:
        row.recording_id, row.recording_sha256 = recording_id, sha256.lower()
    await session.flush()
    return True
