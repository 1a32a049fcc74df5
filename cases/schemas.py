"""Request and response models of the cases API."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from cases.models import (
    CASE_STATUSES,
    HOLD_REASONS,
    AgreedWindow,
    Case,
    CaseContact,
    CaseHold,
    ContactLog,
    Disposition,
)
from cases.rows import CaseIn
from core.pagination import Cursor
from core.schemas import ClockTime, Day, Instant, JsonBool, PositiveMoney, whole_number


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
    promise_amount: PositiveMoney | None = None
    promise_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    promise_date: Day | None = None
    callback_at: Instant | None = None
    third_party_objected: JsonBool | None = Field(None, description="the third party objects to further calls")
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


class CasePut(CaseIn):
    """``PUT /v1/clients/{client}/cases/{external_id}``: a case; the path's external id wins over the body's."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"debtor_name": "Li Lei", "amount": "1200.50", "currency": "CNY", "days_overdue": 45,
         "timezone": "Asia/Shanghai", "received_at": "2026-01-05T09:00:00+08:00",
         "contacts": [{"number": "+8613800000001", "kind": "mobile"},
                      {"number": "+8613800000002", "kind": "third_party", "relation": "spouse"}]}]})

    external_id: Any = Field(None, description="ignored: the external id is the path's")


class HoldIn(_In):
    """``POST /v1/cases/{id}/holds``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reason": "dispute", "note": "debtor disputes the amount"}]})

    reason: Literal[HOLD_REASONS]  # type: ignore[valid-type]
    note: str | None = Field(None, max_length=256)


class StatusIn(_In):
    """Close, mark paid, returned (to the client) or recalled (by the client), or reopen a case."""

    status: Literal["active", "closed", "paid", "returned", "recalled"]
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class AssignmentIn(_In):
    """Assign a case."""

    agent: str | None = Field(None, max_length=64)
    team: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class NumberStatusIn(_In):
    """Change a number's status, objection flag or stated zone."""

    number: str = Field(max_length=32)
    status: Literal["valid", "invalid", "do_not_call"] | None = None
    third_party_objected: JsonBool | None = None
    zone: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


Weekday = Annotated[int, Interval(ge=0, le=6), BeforeValidator(whole_number)]


class WindowIn(_In):
    """An agreed calling window."""

    scope: Literal["number", "case"]
    number: str | None = Field(None, max_length=32)
    weekdays: list[Weekday] = Field(min_length=1, max_length=7, description="0 (Monday) to 6")
    start: ClockTime
    end: ClockTime
    zone: str = Field(max_length=64)
    expires_at: Instant | None = None
    agreed_on_call_id: str | None = Field(None, max_length=36)


class BulkIn(BaseModel):
    """``POST /v1/clients/{client}/cases:bulk``: items are validated one by one."""

    model_config = ConfigDict(extra="forbid")

    batch: str | None = Field(None, max_length=64)
    cases: list[Any] = Field(min_length=1, max_length=10_000)


class ReleaseQuery(BaseModel):
    """``DELETE /v1/cases/{id}/holds/{reason}``: why (the path's ``reason`` is the hold's)."""

    model_config = ConfigDict(extra="forbid")

    why: str | None = Field(None, max_length=500, description="Why the hold is released (kept in the audit trail)")


class EvidenceQuery(BaseModel):
    """``GET /v1/cases/{id}/evidence``."""

    format: Literal["json", "zip"] = "json"


class ContactOut(BaseModel):
    """A number of a case."""

    number: str
    kind: str
    relation: str | None
    status: str
    third_party_objected: bool
    zone: str | None
    removed: bool


class HoldOut(BaseModel):
    """A hold on a case (released ones keep who and when)."""

    id: str
    reason: str
    note: str | None
    source: str
    applied_at: datetime
    applied_by: str
    released_at: datetime | None
    released_by: str | None


class CaseOut(BaseModel):
    """A case with its numbers and active holds; ``result`` after an upsert, ``released`` after a release."""

    id: str
    client_id: str
    batch_id: str | None
    external_id: str
    debtor_name: str
    amount: str = Field(description="decimal string")
    currency: str
    days_overdue: int
    address: str | None
    region: str | None
    timezone: str | None
    status: str
    assigned_agent: str | None
    team: str | None
    received_at: datetime | None
    created_at: datetime
    updated_at: datetime
    debtor_key: str
    contacts: list[ContactOut]
    holds: list[HoldOut]
    result: Literal["created", "updated", "unchanged"] | None = None
    released: list[HoldOut] | None = None


_KEY = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class CaseQuery(BaseModel):
    """Filters of GET /v1/cases (always inside the caller's scope: an agent's are its assigned cases)."""

    model_config = ConfigDict(extra="forbid")

    client: str | None = Field(None, pattern=_KEY)
    status: Literal[CASE_STATUSES] | None = None  # type: ignore[valid-type]
    agent: str | None = Field(None, pattern=_KEY, description="assigned agent; `me` for the caller")
    team: str | None = Field(None, pattern=_KEY)
    batch: str | None = Field(None, pattern=_KEY)
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)


class CaseList(BaseModel):
    """One page of cases, newest first."""

    items: list[CaseOut]
    next_cursor: str | None


class WindowOut(BaseModel):
    """An agreed calling window."""

    id: str
    scope: str
    number: str | None
    weekdays: list[int]
    start: str
    end: str
    zone: str
    expires_at: datetime | None
    recorded_by: str
    agreed_on_call_id: str | None


class WindowList(BaseModel):
    """Windows not revoked and not expired."""

    items: list[WindowOut]


class BulkItemOut(BaseModel):
    """The result of one item of a bulk import (``errors`` name each bad field of an invalid one)."""

    index: int
    external_id: str | None
    result: Literal["created", "updated", "unchanged", "invalid", "error"]
    case_id: str | None
    errors: list[dict[str, str]]


class BulkOut(BaseModel):
    """Counts per result and one result per item, in order."""

    counts: dict[str, int]
    results: list[BulkItemOut]
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
    """The API form of a contact-log row; ``agents``: who talked to the customer, when (a call without a
    transfer: its own agent, with the call's times; a transferred call: each leg, in order)."""
    return {"call_id": row.call_id, "at": row.at, "method": row.method,
            "direction": (row.extra or {}).get("direction", "outbound"), "agent_id": row.agent_id,
            "number": row.number, "number_kind": row.number_kind, "connected": row.connected,
            "answered_at": row.answered_at, "ended_at": row.ended_at, "talk_seconds": row.talk_seconds,
            "agents": _agents_json(row),
            "outcome": row.outcome, "recording_id": row.recording_id, "recording_sha256": row.recording_sha256}


def _agents_json(row: ContactLog) -> list[dict[str, Any]]:
    stored = (row.extra or {}).get("agents")
    if not stored:
        return [{"agent_id": row.agent_id, "role": "agent", "answered_at": row.answered_at, "ended_at": row.ended_at,
                 "talk_seconds": row.talk_seconds}] if row.connected else []
    return [{**a, "answered_at": _when(a.get("answered_at")), "ended_at": _when(a.get("ended_at"))} for a in stored]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def disposition_json(d: Disposition, holds: list[str] | None = None) -> dict[str, Any]:
    """The API form of a disposition."""
    return {"id": d.id, "call_id": d.call_id, "case_id": d.case_id, "agent_id": d.agent_id, "outcome": d.outcome,
            "promise_amount": str(d.promise_amount) if d.promise_amount is not None else None,
            "promise_currency": d.promise_currency, "promise_date": d.promise_date, "callback_at": d.callback_at,
            "notes": d.notes, "recorded_at": d.recorded_at, "holds_applied": holds or []}
