"""Request and response models of the payments and promises API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import iso_or_none
from core.schemas import Instant, PositiveMoney
from payments.models import Payment, Promise

_ID = r"^[^\s/\\?#%]{1,64}$"


class PaymentIn(BaseModel):
    """One payment as the bank's case system reports it."""

    model_config = ConfigDict(extra="forbid")

    payment_id: str = Field(pattern=_ID, description="the bank's own id of the payment (idempotency key)")
    case_external_id: str = Field(pattern=_ID, description="the case's external id, as in PUT /v1/clients/.../cases")
    amount: PositiveMoney
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    paid_at: Instant = Field(description="when the debtor paid (RFC 3339 with offset)")


class PaymentsIn(BaseModel):
    """``POST /v1/clients/{client}/payments``: items are validated one by one."""

    model_config = ConfigDict(extra="forbid")

    payments: list[Any] = Field(min_length=1, max_length=10_000)


class PaymentItemOut(BaseModel):
    """The result of one item: ``created``, ``unchanged`` (sent before, same content), ``conflict`` (the id was
    sent before with other content: nothing changed), ``no-such-case`` or ``invalid``."""

    index: int
    payment_id: str | None
    result: Literal["created", "unchanged", "conflict", "no-such-case", "invalid"]
    id: str | None
    errors: list[dict[str, str]]


class PaymentsOut(BaseModel):
    """Counts per result and one result per item, in order."""

    counts: dict[str, int]
    results: list[PaymentItemOut]


class PaymentOut(BaseModel):
    """A stored payment."""

    id: str
    payment_id: str
    case_id: str
    client_id: str
    amount: str
    currency: str
    paid_at: datetime
    received_at: datetime


class PromiseOut(BaseModel):
    """A promise to pay and its status: ``pending`` (its deadline not passed; ``paid`` so far), ``kept`` (paid
    at least ``amount`` less ``tolerance`` by its deadline, even when reported late), ``partial`` (the deadline
    passed with less than that paid), ``broken`` (the deadline passed with nothing paid)."""

    id: str
    case_id: str
    client_id: str
    call_id: str
    agent: str
    team: str | None
    amount: str
    currency: str
    paid: str = Field(description="payments of the case from the promise to its deadline, so far")
    tolerance: str = Field(description="how far short of amount the payments may stay and still keep it")
    promised_at: datetime
    promise_date: date
    grace_days: int
    deadline: datetime
    status: str
    settled_at: datetime | None


class PromiseQuery(BaseModel):
    """``GET /v1/promises``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "kept", "partial", "broken"] | None = None
    case_id: str | None = Field(None, max_length=36)
    limit: int = Field(100, ge=1, le=1000)


class PromiseList(BaseModel):
    """Promises, the nearest deadline first."""

    items: list[PromiseOut]


class CasePayments(BaseModel):
    """A case's payments (newest first) and promises."""

    case_id: str
    payments: list[PaymentOut]
    promises: list[PromiseOut]


def payment_json(p: Payment) -> dict[str, Any]:
    """The API form of a payment."""
    return {"id": p.id, "payment_id": p.external_id, "case_id": p.case_id, "client_id": p.client_id,
            "amount": f"{p.amount:.2f}", "currency": p.currency, "paid_at": p.paid_at.isoformat(),
            "received_at": p.received_at.isoformat()}


def promise_json(p: Promise) -> dict[str, Any]:
    """The API form of a promise."""
    return {"id": p.id, "case_id": p.case_id, "client_id": p.client_id, "call_id": p.call_id, "agent": p.agent_id,
            "team": p.team, "amount": f"{p.amount:.2f}", "currency": p.currency, "paid": f"{p.paid:.2f}",
            "tolerance": f"{p.tolerance:.2f}", "promised_at": p.promised_at.isoformat(),
            "promise_date": p.promise_date.isoformat(),
            "grace_days": p.grace_days, "deadline": p.deadline.isoformat(), "status": p.status,
            "settled_at": iso_or_none(p.settled_at)}
