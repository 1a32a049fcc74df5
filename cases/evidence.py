"""Evidence of valid collection (有效催收): the contact log, whether two valid collections at least 30 days
apart exist and since when more than three months have passed (the zip export is ``cases.export``).

A *valid collection* is a contact-log row of the case that: reached one of the debtor's own numbers
(mobile, home, work), was answered, was a conversation with the debtor (disposition right_party_contact,
promise_to_pay, refuses or dispute; or, without a disposition, talk time >= ``talk_threshold_s``) and has
a stored recording (id and SHA-256 on the row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import OWN_KINDS, Case, ContactLog
from cases.queries import get_case
from cases.schemas import contact_json

DEBTOR_OUTCOMES = ("right_party_contact", "promise_to_pay", "refuses", "dispute")
MIN_GAP = timedelta(days=30)
TALK_THRESHOLD_S = 30.0


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus calendar months (the day clamped to the month's last day)."""
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return at.replace(year=year, month=month, day=min(at.day, days))


def is_valid_collection(row: ContactLog, *, talk_threshold_s: float = TALK_THRESHOLD_S) -> bool:
    """True when the contact counts as a valid collection (see the module docstring)."""
    if not row.connected or row.number_kind not in OWN_KINDS or not row.recording_sha256:
        return False
    if row.outcome in DEBTOR_OUTCOMES:
        return True
    if row.outcome in (None, "other", "callback_requested"):  # no clear answer: a long talk counts
        return (row.talk_seconds or 0.0) >= talk_threshold_s
    return False


@dataclass(frozen=True, slots=True)
class Evidence:
    """The answer of ``GET /v1/cases/{id}/evidence``."""

    case_id: str
    case_status: str
    valid_collections: list[ContactLog]
    first: ContactLog | None
    second: ContactLog | None
    three_months_after_second: datetime | None
    now: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        passed = self.three_months_after_second is not None and self.now > self.three_months_after_second
        return {
            "case_id": self.case_id, "case_status": self.case_status,
            "valid_collections": [contact_json(r) for r in self.valid_collections],
            "two_collections_30_days_apart": self.second is not None,
            "first": contact_json(self.first) if self.first else None,
            "second": contact_json(self.second) if self.second else None,
            "three_months_after_second": self.three_months_after_second,
            "more_than_three_months_passed": passed,
            "since": self.three_months_after_second if passed else None,
            "unpaid": self.case_status != "paid",
        }


async def contacts(session: AsyncSession, case_id: str) -> tuple[Case, list[ContactLog]]:
    """The case and its contact log, oldest first."""
    case = await get_case(session, case_id)
    rows = await session.scalars(select(ContactLog).where(ContactLog.case_id == case_id)
                                 .order_by(ContactLog.at, ContactLog.id))
    return case, list(rows.all())


async def evidence(session: AsyncSession, case_id: str, *, now: datetime,
                   talk_threshold_s: float = TALK_THRESHOLD_S) -> Evidence:
    """Whether (and since when) the valid-collection condition holds for the case."""
    case, rows = await contacts(session, case_id)
    valid = [r for r in rows if is_valid_collection(r, talk_threshold_s=talk_threshold_s)]
    first = valid[0] if valid else None
    # the earliest first makes the 30-day condition weakest, so (earliest, earliest >= +30d) is the
    # earliest possible second collection
    second = next((r for r in valid if first is not None and r.at >= first.at + MIN_GAP), None)
    after = add_months(second.at, 3) if second is not None else None
    return Evidence(case.id, case.status, valid, first, second, after, now)
