"""Domain events of payments and promises (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel

from core.events import Amount, EventData
from payments.models import Payment, Promise

PAYMENT_RECEIVED = "payment.received"
PROMISE_MADE = "promise.made"
PROMISE_KEPT = "promise.kept"
PROMISE_BROKEN = "promise.broken"  # the deadline passed short of it: payload status ``broken`` or ``partial``
# a payment reported after the deadline passed (but paid before it) covers a broken or partial promise: it is
# kept after all; payload ``previous_status``; the follow-up callback its promise.broken scheduled is done
PROMISE_KEPT_LATE = "promise.kept_late"

ALL = (PAYMENT_RECEIVED, PROMISE_MADE, PROMISE_KEPT, PROMISE_BROKEN, PROMISE_KEPT_LATE)


def payment_payload(p: Payment) -> dict[str, Any]:
    """The thin payload of ``payment.received`` (ids, amount and times; nothing personal)."""
    return {"payment_id": p.id, "external_id": p.external_id, "case_id": p.case_id, "client_id": p.client_id,
            "amount": f"{p.amount:.2f}", "currency": p.currency, "paid_at": p.paid_at.isoformat()}


def promise_payload(p: Promise, **extra: Any) -> dict[str, Any]:
    """The thin payload of a promise event."""
    return {"promise_id": p.id, "case_id": p.case_id, "client_id": p.client_id, "call_id": p.call_id,
            "agent_id": p.agent_id, "team": p.team, "amount": f"{p.amount:.2f}", "currency": p.currency,
            "paid": f"{p.paid:.2f}", "tolerance": f"{p.tolerance:.2f}", "promise_date": p.promise_date.isoformat(),
            "deadline": p.deadline.isoformat(),
            "status": p.status, **extra}


class PaymentData(EventData):
    """``payment.received``."""

    payment_id: str
    external_id: str
    case_id: str
    client_id: str
    amount: Amount
    currency: str
    paid_at: AwareDatetime


class PromiseData(EventData):
    """``promise.made`` / ``promise.kept``: the promise, what is paid towards it, its status."""

    promise_id: str
    case_id: str
    client_id: str
    call_id: str
    agent_id: str
    team: str | None
    amount: Amount
    currency: str
    paid: Amount
    tolerance: Amount
    promise_date: date
    deadline: AwareDatetime
    status: Literal["pending", "kept", "broken", "partial"]


class PromiseBrokenData(PromiseData):
    """``promise.broken``: and who follows it up (the case's agent, else the one who took the promise)."""

    followup_agent: str | None


class PromiseKeptLateData(PromiseData):
    """``promise.kept_late``: a payment reported after the deadline covers a broken or partial promise."""

    previous_status: Literal["broken", "partial"]


DATA: dict[str, type[BaseModel]] = {PAYMENT_RECEIVED: PaymentData, PROMISE_MADE: PromiseData,
                                    PROMISE_KEPT: PromiseData, PROMISE_BROKEN: PromiseBrokenData,
                                    PROMISE_KEPT_LATE: PromiseKeptLateData}
"""Each payment and promise event type's data model."""
