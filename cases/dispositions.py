"""Dispositions: the agent records a call's outcome; some outcomes put holds on the case by policy.

Policy: ``dispute`` holds the case (reason dispute) and asks for a legal hold on its recordings (event
``recordings.legal_hold_requested``, which the recordings feature acts on); ``deceased`` and
``suspected_fraud`` hold the case; ``wrong_number`` marks the number invalid; ``third_party_answered``
with ``third_party_objected`` flags the number so it is never used again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from cases import events as ev
from cases.contacts import record_contact
from cases.errors import DispositionExists, NotYourCall
from cases.holds import apply_hold, ask_legal_hold
from cases.models import Case, CaseContact, Disposition
from cases.schemas import DispositionIn, Outcome
from core.events import DomainEvent, EventLog
from dialer.errors import NoSuchCall
from dialer.models import Call

HOLD_BY_OUTCOME = {Outcome.DISPUTE: "dispute", Outcome.DECEASED: "deceased",
                   Outcome.SUSPECTED_FRAUD: "suspected_fraud"}
MAY_RECORD_ANY = (Role.SUPERVISOR, Role.ADMIN)


async def record_disposition(session: AsyncSession, events: EventLog, *, principal: Principal, call_id: str,
                             data: DispositionIn, now: datetime,
                             legal_hold: Sequence[ev.LegalHoldListener] = ()) -> tuple[Disposition, list[str]]:
    """Record the outcome of ``call_id`` and apply the policy; returns it and the holds it applied.

    A legal hold the policy asks for (``recordings.legal_hold_requested``) is handed, in this same
    transaction, to each ``legal_hold`` listener (the recordings feature, wired by ``app.compose``).
    """
    q = select(Call).where(Call.id == call_id)
    if session.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()
    call = (await session.scalars(q)).first()
    if call is None or not Scope.of(principal).sees_call(client_id=call.client_id, team=call.team,
                                                         agent_id=call.agent_id, requested_by=call.requested_by,
                                                         me=principal.user_id):
        raise NoSuchCall(f"no call {call_id}", details={"call_id": call_id})
    if principal.role != Role.AGENT and not principal.is_any(MAY_RECORD_ANY):
        raise NotYourCall("only the call's agent or a supervisor records dispositions")
    existing = (await session.scalars(select(Disposition).where(Disposition.call_id == call_id))).first()
    if existing is not None:
        raise DispositionExists("the call already has a disposition", details={"call_id": call_id,
                                                                             "outcome": existing.outcome})
    disp = Disposition(call_id=call.id, case_id=call.case_id, agent_id=call.agent_id, recorded_by=principal.user_id,
                       outcome=data.outcome.value, promise_amount=data.promise_amount,
                       promise_currency=data.promise_currency, promise_date=data.promise_date,
                       callback_at=data.callback_at, notes=data.notes, recorded_at=now)
    session.add(disp)
    call.outcome = data.outcome.value
    await session.flush()
    payload: dict[str, Any] = {
        "call_id": call.id, "case_id": call.case_id, "agent_id": call.agent_id, "outcome": disp.outcome,
        "promise_amount": str(data.promise_amount) if data.promise_amount is not None else None,
        "promise_currency": data.promise_currency,
        "promise_date": data.promise_date.isoformat() if data.promise_date else None,
        "callback_at": data.callback_at.isoformat() if data.callback_at else None,
    }
    await events.record(session, DomainEvent(type=ev.DISPOSITION_RECORDED, call_id=call.id, case_id=call.case_id,
                                             agent_id=call.agent_id, client_id=call.client_id, team=call.team,
                                             occurred_at=now,
                                             payload=payload))
    holds = await _apply_policy(session, events, call, data, principal=principal, now=now, legal_hold=legal_hold)
    await record_contact(session, call)
    return disp, holds


async def _apply_policy(session: AsyncSession, events: EventLog, call: Call, data: DispositionIn, *,
                        principal: Principal, now: datetime,
                        legal_hold: Sequence[ev.LegalHoldListener]) -> list[str]:
    if call.case_id is None:
        return []
    case = await session.get(Case, call.case_id)
    if case is None:
        return []
    applied: list[str] = []
    reason = HOLD_BY_OUTCOME.get(data.outcome)
    if reason is not None:
        hold = await apply_hold(session, events, case, reason=reason, source="disposition", by=principal.user_id,
                                now=now, note=f"disposition of call {call.id}")
        if hold is not None:
            applied.append(reason)
    if data.outcome == Outcome.DISPUTE:
        await ask_legal_hold(session, events, case, reason="dispute", by=principal.user_id, role=str(principal.role),
                             now=now, listeners=legal_hold, call_id=call.id)
    contact = (await session.scalars(select(CaseContact).where(CaseContact.case_id == case.id,
                                                               CaseContact.number == call.number))).first()
    if contact is not None:
        changed = False
        if data.outcome == Outcome.WRONG_NUMBER and contact.status != "invalid":
            contact.status, contact.status_source, changed = "invalid", "disposition", True
        if data.third_party_objected and not contact.third_party_objected:
            contact.third_party_objected, changed = True, True
        if changed:
            contact.updated_at = case.updated_at = now
            await session.flush()
            await events.record(session, DomainEvent(
                type=ev.CASE_UPDATED, case_id=case.id, client_id=case.client_id, team=case.team, occurred_at=now,
                payload=ev.case_payload(case, change="number_status", number_status=contact.status,
                                        number_kind=contact.kind)))
    return applied
