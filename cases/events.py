"""Domain events emitted by the cases package (names are the public webhook event types)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, RootModel
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import CASE_STATUSES, NUMBER_STATUSES, Case
from cases.schemas import Outcome
from core.events import Amount, EventData

CASE_IMPORTED = "case.imported"
CASE_UPDATED = "case.updated"
HOLD_APPLIED = "hold.applied"
HOLD_RELEASED = "hold.released"
DISPOSITION_RECORDED = "disposition.recorded"
LEGAL_HOLD_REQUESTED = "recordings.legal_hold_requested"

ALL = (CASE_IMPORTED, CASE_UPDATED, HOLD_APPLIED, HOLD_RELEASED, DISPOSITION_RECORDED, LEGAL_HOLD_REQUESTED)


def case_payload(case: Case, **extra: Any) -> dict[str, Any]:
    """The thin payload of a case event: ids and non-personal fields (no name, number or address)."""
    return {
        "case_id": case.id, "client_id": case.client_id, "batch_id": case.batch_id,
        "external_id": case.external_id, "status": case.status, "days_overdue": case.days_overdue,
        "assigned_agent": case.assigned_agent, "team": case.team, **extra,
    }


@dataclass(frozen=True, slots=True)
class LegalHoldRequested:
    """A case's recordings must be kept whatever their retention (a disputed call, say)."""

    case_id: str
    call_id: str | None
    reason: str
    by: str
    at: datetime
    role: str = "system"  # the role of ``by`` (for the audit trail)


class CaseData(EventData):
    """A case's non-personal fields (``case_payload``)."""

    case_id: str
    client_id: str
    batch_id: str | None
    external_id: str = Field(description="The case system's id of the case")
    status: Literal[CASE_STATUSES]  # type: ignore[valid-type]
    days_overdue: int
    assigned_agent: str | None
    team: str | None


class CaseImportedData(CaseData):
    """``case.imported``: the case system created the case."""

    change: Literal["import"]


class CaseReimported(CaseImportedData):
    """The case system updated the case (``PUT``, bulk import)."""


class CaseStatusChanged(CaseData):
    """Closed, paid, returned, recalled or reopened."""

    change: Literal["status"]


class CaseAssigned(CaseData):
    """Assigned to another agent or team."""

    change: Literal["assignment"]


class CaseNumberStatusChanged(CaseData):
    """A number of the case changed status (a correction, a wrong-number disposition, an objection)."""

    change: Literal["number_status"]
    number_status: Literal[NUMBER_STATUSES]  # type: ignore[valid-type]
    number_kind: str


class CaseWindowAgreed(CaseData):
    """The debtor agreed a window to be called in."""

    change: Literal["agreed_window"]
    window_id: str
    scope: Literal["number", "case"]
    evidence: Literal["case_system", "call"]


class CaseWindowRevoked(CaseData):
    """An agreed window was revoked."""

    change: Literal["agreed_window_revoked"]
    window_id: str


class CaseUpdatedData(RootModel[Annotated[
        CaseReimported | CaseStatusChanged | CaseAssigned | CaseNumberStatusChanged | CaseWindowAgreed
        | CaseWindowRevoked, Field(discriminator="change")]]):
    """``case.updated``: the case and what changed (``change``), with that change's fields."""


class HoldData(CaseData):
    """``hold.applied`` / ``hold.released``: the case and the hold."""

    reason: str
    source: str = Field(description="Who placed it: ``case_system``, ``disposition``, ``supervisor``...")
    hold_id: str


class DispositionData(EventData):
    """``disposition.recorded``: the agent's outcome of a call (the promise's terms, not the notes)."""

    call_id: str
    case_id: str | None
    agent_id: str
    outcome: Outcome
    promise_amount: Amount | None
    promise_currency: str | None
    promise_date: date | None
    callback_at: AwareDatetime | None


class LegalHoldRequestedData(EventData):
    """``recordings.legal_hold_requested``: every recording of the case must be kept."""

    case_id: str
    call_id: str | None
    reason: str


DATA: dict[str, type[BaseModel]] = {
    CASE_IMPORTED: CaseImportedData, CASE_UPDATED: CaseUpdatedData, HOLD_APPLIED: HoldData, HOLD_RELEASED: HoldData,
    DISPOSITION_RECORDED: DispositionData, LEGAL_HOLD_REQUESTED: LegalHoldRequestedData,
}
"""Each case event type's data model."""


LegalHoldListener = Callable[[AsyncSession, LegalHoldRequested], Awaitable[None]]
"""Told, inside the transaction that requests it, that a case's recordings need a legal hold."""
