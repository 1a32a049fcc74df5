"""Request and response models of the two-person rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from approvals.models import ReleaseRequest
from cases.models import HOLD_REASONS
from core.pagination import Cursor

Reason = Annotated[str, Field(min_length=3, max_length=500, pattern=r"\S",
                              description="Why (kept with the request and in the audit trail)")]
Id = Annotated[str, Field(min_length=1, max_length=36)]
State = Literal["pending", "approved", "rejected", "expired"]
Kind = Literal["case_hold", "do_not_call_number", "recording_legal_hold"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseHoldRelease(_In):
    """Lift a case's hold (a legal hard stop the case system set: deceased, suspected_fraud, attorney,
    bankruptcy, dispute, cease_request)."""

    kind: Literal["case_hold"]
    case_id: Id
    hold_reason: Literal[HOLD_REASONS]  # type: ignore[valid-type]
    reason: Reason


class NumberRelease(_In):
    """Set a case's do-not-call number back to valid."""

    kind: Literal["do_not_call_number"]
    case_id: Id
    number: str = Field(min_length=1, max_length=32)
    reason: Reason


class RecordingHoldRelease(_In):
    """Release a recording's legal hold (retention applies again)."""

    kind: Literal["recording_legal_hold"]
    recording_id: Id
    reason: Reason


ReleaseTarget = CaseHoldRelease | NumberRelease | RecordingHoldRelease


class ReleaseRequestIn(RootModel[Annotated[ReleaseTarget, Field(discriminator="kind")]]):
    """``POST /v1/release-requests``: what to release (``kind`` and its target) and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "case_hold", "case_id": "0d1f2c3b-aaaa-4bbb-8ccc-123456789abc", "hold_reason": "deceased",
         "reason": "the bank confirmed the death notice was for another person"},
        {"kind": "do_not_call_number", "case_id": "0d1f2c3b-aaaa-4bbb-8ccc-123456789abc",
         "number": "+8613800000001", "reason": "the debtor withdrew the cease request in writing"},
        {"kind": "recording_legal_hold", "recording_id": "5c9e1a2b-1111-4222-8333-444455556666",
         "reason": "the dispute was settled; legal confirmed no further need"}]})


class DecisionIn(_In):
    """``POST /v1/release-requests/{id}/approve`` or ``/reject``: why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "checked the bank's letter of 3 March"}]})

    reason: Reason


class ReleaseRequestOut(BaseModel):
    """A release request: who asked and why, who decided and why, and its state."""

    id: str
    kind: Kind
    state: State = Field(description="pending, approved (and carried out), rejected, or expired (not decided "
                                     "within approvals.request_ttl_days)")
    client_id: str | None
    team: str | None
    case_id: str | None
    hold_reason: str | None
    number: str | None
    recording_id: str | None
    reason: str
    requested_by: str
    requested_role: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_role: str | None
    decision_reason: str | None
    decided_at: datetime | None


class ReleaseRequestPage(BaseModel):
    """A page of release requests, newest first."""

    items: list[ReleaseRequestOut]
    next_cursor: str | None


class ReleaseRequestQuery(BaseModel):
    """Filters of the release requests (every one optional)."""

    model_config = ConfigDict(extra="forbid")

    state: State | None = None
    kind: Kind | None = None
    case_id: str | None = Field(None, max_length=36)
    recording_id: str | None = Field(None, max_length=36)
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)


def state_of(row: ReleaseRequest, now: datetime) -> State:
    """The state as the API shows it: a pending request past its expiry is ``expired``."""
    if row.state == "pending" and row.expires_at <= now:
        return "expired"
    return row.state  # type: ignore[return-value]


def request_out(row: ReleaseRequest, now: datetime) -> ReleaseRequestOut:
    """The API form of a request at ``now``."""
    return ReleaseRequestOut(
        id=row.id, kind=row.kind, state=state_of(row, now), client_id=row.client_id,
        team=row.team, case_id=row.case_id, hold_reason=row.hold_reason, number=row.number,
        recording_id=row.recording_id, reason=row.reason, requested_by=row.requested_by,
        requested_role=row.requested_role, requested_at=row.requested_at, expires_at=row.expires_at,
        decided_by=row.decided_by, decided_role=row.decided_role, decision_reason=row.decision_reason,
        decided_at=row.decided_at)
