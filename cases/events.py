"""Domain events emitted by the cases package (names are the public webhook event types)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case

CASE_IMPORTED = "case.imported"
CASE_UPDATED = "case.updated"
HOLD_APPLIED = "hold.applied"
HOLD_RELEASED = "hold.released"
DISPOSITION_RECORDED = "disposition.recorded"
CONTACT_LOGGED = "contact.logged"
LEGAL_HOLD_REQUESTED = "recordings.legal_hold_requested"

ALL = (CASE_IMPORTED, CASE_UPDATED, HOLD_APPLIED, HOLD_RELEASED, DISPOSITION_RECORDED, CONTACT_LOGGED,
       LEGAL_HOLD_REQUESTED)


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


LegalHoldListener = Callable[[AsyncSession, LegalHoldRequested], Awaitable[None]]
"""Told, inside the transaction that requests it, that a case's recordings need a legal hold."""
