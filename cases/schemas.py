"""Request and response models of the cases API."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cases.models import HOLD_REASONS, AgreedWindow, Case, CaseContact, CaseHold, ContactLog, Disposition


class Outcome(StrEnum):
    """What a call achieved, as the agent records it."""

    RIGHT_PARTY_CONTACT = "right_party_contact"
    PROMISE_TO_PAY = "promise_to_pay"
    REFUSES = "refuses"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY_ANSWERED = "third_party_answered"
    DECEASED = "deceased"
    SUSPECTED_FRAUD = "suspected_fraud"
    DISPUTE = "dispute"
    CALLBACK_REQUESTED = "callback_requested"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    LEFT_MESSAGE = "left_message"
    OTHER = "other"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DispositionIn(_In):
    """``POST /v1/calls/{call_id}/disposition``."""

    outcome: Outcome
    promise_amount: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=4)
    promise_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    promise_date: date | None = None
    callback_at: datetime | None = None
    third_party_objected: bool | None = Field(None, description="the third party objects to further calls")
    notes: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _fields_of_outcome(self) -> DispositionIn:
        if self.outcome == Outcome.PROMISE_TO_PAY and (self.promise_amount is None or self.promise_date is None):
            raise ValueError("promise_to_pay needs promise_amount and promise_date")
        if self.outcome != Outcome.PROMISE_TO_PAY and (self.promise_amount or self.promise_date):
            raise ValueError("promise fields are only for promise_to_pay")
        if self.outcome == Outcome.CALLBACK_REQUESTED and self.callback_at is None:
            raise ValueError("callback_requested needs callback_at")
        if self.callback_at is not None and self.callback_at.tzinfo is None:
            raise ValueError("callback_at needs a UTC offset")
        if self.third_party_objected is not None and self.outcome != Outcome.THIRD_PARTY_ANSWERED:
            raise ValueError("third_party_objected is only for third_party_answered")
        return self


class DispositionOut(BaseModel):
    """A recorded disposition."""

    id: str
    call_id: str
    case_id: str | None
    agent_id: str
    outcome: str
    promise_amount: str | None
    promise_currency: str | None
    promise_date: date | None
    callback_at: datetime | None
    notes: str | None
    recorded_at: datetime
    holds_applied: list[str] = Field(default_factory=list)


class HoldIn(_In):
    """``POST /v1/cases/{id}/holds``."""

    reason: Literal[HOLD_REASONS]  # type: ignore[valid-type]
    note: str | None = Field(None, max_length=256)


class StatusIn(_In):
    """Close, mark paid, returned (to the client) or recalled (by the client), or reopen a case."""

    status: Literal["active", "closed", "paid", "returned", "recalled"]


class AssignmentIn(_In):
    """Assign a case."""

    agent: str | None = Field(None, max_length=64)
    team: str | None = Field(None, max_length=64)


class NumberStatusIn(_In):
    """Change a number's status, objection flag or stated zone."""

    number: str = Field(max_length=32)
    status: Literal["valid", "invalid", "do_not_call"] | None = None
    third_party_objected: bool | None = None
    zone: str | None = Field(None, max_length=64)


class WindowIn(_In):
    """An agreed calling window."""

    scope: Literal["number", "case"]
    number: str | None = Field(None, max_length=32)
    weekdays: list[int] = Field(min_length=1, max_length=7)
    start: time
    end: time
    zone: str = Field(max_length=64)
    expires_at: datetime | None = None
    agreed_on_call_id: str | None = Field(None, max_length=36)


class BulkIn(BaseModel):
    """``POST /v1/clients/{client}/cases:bulk``: items are validated one by one."""

    model_config = ConfigDict(extra="forbid")

    batch: str | None = Field(None, max_length=64)
    cases: list[Any] = Field(min_length=1, max_length=10_000)


class EvidenceQuery(BaseModel):
    """``GET /v1/cases/{id}/evidence``."""

    format: Literal["json", "zip"] = "json"


def case_json(case: Case, contacts_: list[CaseContact] | None = None,
              holds: list[CaseHold] | None = None) -> dict[str, Any]:
    """The API form of a case."""
    out: dict[str, Any] = {
        "id": case.id, "client_id": case.client_id, "batch_id": case.batch_id, "external_id": case.external_id,
        "debtor_name": case.debtor_name, "amount": str(case.amount), "currency": case.currency,
        "days_overdue": case.days_overdue, "address": case.address, "region": case.region,
        "timezone": case.timezone, "status": case.status, "assigned_agent": case.assigned_agent,
        "team": case.team, "received_at": case.received_at, "created_at": case.created_at,
        "updated_at": case.updated_at, "debtor_key": case.debtor_key,
    }
    if contacts_ is not None:
        out["contacts"] = [{"number": c.number, "kind": c.kind, "relation": c.relation, "status": c.status,
                            "third_party_objected": c.third_party_objected, "zone": c.zone,
                            "removed": c.removed_at is not None} for c in contacts_]
    if holds is not None:
        out["holds"] = [hold_json(h) for h in holds]
    return out


def hold_json(h: CaseHold) -> dict[str, Any]:
    """The API form of a hold."""
    return {"id": h.id, "reason": h.reason, "note": h.note, "source": h.source, "applied_at": h.applied_at,
            "applied_by": h.applied_by, "released_at": h.released_at, "released_by": h.released_by}


def window_json(w: AgreedWindow) -> dict[str, Any]:
    """The API form of an agreed window."""
    return {"id": w.id, "scope": w.scope, "number": w.number, "weekdays": w.weekdays,
            "start": w.start_local.isoformat(), "end": w.end_local.isoformat(), "zone": w.zone,
            "expires_at": w.expires_at, "recorded_by": w.recorded_by, "agreed_on_call_id": w.agreed_on_call_id,
            "evidence": w.evidence}


def contact_json(row: ContactLog) -> dict[str, Any]:
    """The API form of a contact-log row."""
    return {"call_id": row.call_id, "at": row.at, "method": row.method, "agent_id": row.agent_id,
            "number": row.number, "number_kind": row.number_kind, "connected": row.connected,
            "answered_at": row.answered_at, "ended_at": row.ended_at, "talk_seconds": row.talk_seconds,
            "outcome": row.outcome, "recording_id": row.recording_id, "recording_sha256": row.recording_sha256}


def disposition_json(d: Disposition, holds: list[str] | None = None) -> dict[str, Any]:
    """The API form of a disposition."""
    return {"id": d.id, "call_id": d.call_id, "case_id": d.case_id, "agent_id": d.agent_id, "outcome": d.outcome,
            "promise_amount": str(d.promise_amount) if d.promise_amount is not None else None,
            "promise_currency": d.promise_currency, "promise_date": d.promise_date, "callback_at": d.callback_at,
            "notes": d.notes, "recorded_at": d.recorded_at, "holds_applied": holds or []}
