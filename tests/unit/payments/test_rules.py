"""The pure promise rules: a deadline at the end of the promise date plus the grace in the case's zone, the
tolerance from the client's percentage, and the status from what was paid, the tolerance and the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from payments.rules import deadline, status, tolerance


def test_the_deadline_is_the_local_midnight_after_the_date_plus_the_grace() -> None:
    assert deadline(date(2026, 12, 9), 3, "Asia/Shanghai") == datetime(2026, 12, 12, 16, 0, tzinfo=UTC)
    assert deadline(date(2026, 12, 9), 0, "Asia/Shanghai") == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    assert deadline(date(2026, 12, 9), 0, None) == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    assert deadline(date(2026, 12, 9), 0, "Not/AZone") == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    # across a DST change: the local midnight, whatever the offset that day
    assert deadline(date(2026, 3, 7), 0, "America/New_York") == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert deadline(date(2026, 3, 8), 0, "America/New_York") == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


def test_kept_once_covered_partial_or_broken_once_the_deadline_passed_pending_before() -> None:
    end = datetime(2026, 12, 12, 16, 0, tzinfo=UTC)
    before, at = datetime(2026, 12, 12, 15, 59, tzinfo=UTC), end
    zero = Decimal(0)
    assert status(amount=Decimal("300"), paid=Decimal("299.99"), tolerance=zero, deadline=end, now=before) == "pending"
    assert status(amount=Decimal("300"), paid=Decimal("299.99"), tolerance=zero, deadline=end, now=at) == "partial"
    assert status(amount=Decimal("300"), paid=zero, tolerance=zero, deadline=end, now=at) == "broken"
    assert status(amount=Decimal("300"), paid=zero, tolerance=zero, deadline=end, now=before) == "pending"
    assert status(amount=Decimal("300"), paid=Decimal("300.00"), tolerance=zero, deadline=end, now=at) == "kept"
    assert status(amount=Decimal("300"), paid=Decimal("450"), tolerance=zero, deadline=end, now=before) == "kept"


def test_the_tolerance_keeps_a_promise_paid_short_by_up_to_it_exactly_at_it_included() -> None:
    end = datetime(2026, 12, 12, 16, 0, tzinfo=UTC)
    assert tolerance(Decimal("300"), Decimal("5")) == Decimal("15.0000")
    assert tolerance(Decimal("333.33"), Decimal("2.5")) == Decimal("8.3332")  # rounded down, never more
    assert tolerance(Decimal("300"), Decimal(0)) == 0
    tol = tolerance(Decimal("300"), Decimal("5"))
    assert status(amount=Decimal("300"), paid=Decimal("285"), tolerance=tol, deadline=end, now=end) == "kept"
    assert status(amount=Decimal("300"), paid=Decimal("285"), tolerance=tol, deadline=end,
                  now=datetime(2026, 12, 8, tzinfo=UTC)) == "kept"  # before the deadline too
    assert status(amount=Decimal("300"), paid=Decimal("284.99"), tolerance=tol, deadline=end, now=end) == "partial"
