"""When a promise to pay is due and whether it is kept: pure functions of its facts (tested with plain values)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payments.models import BROKEN, KEPT, PARTIAL, PENDING


def deadline(promise_date: date, grace_days: int, zone: str | None) -> datetime:
    """The end of ``promise_date`` + ``grace_days`` (local midnight after it) in the case's zone, in UTC;
    a case without a (known) zone is read in UTC."""
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    end = datetime.combine(promise_date + timedelta(days=grace_days + 1), time(0), tzinfo=tz)
    return end.astimezone(UTC)


def tolerance(amount: Decimal, percent: Decimal) -> Decimal:
    """The amount short of ``amount`` that still keeps a promise: ``percent`` of it, rounded down to the
    column's 4 places (so a promise is never kept by more than the client allows)."""
    return (amount * percent / 100).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def status(*, amount: Decimal, paid: Decimal, tolerance: Decimal, deadline: datetime, now: datetime) -> str:
    """``kept`` once ``paid`` covers ``amount`` less ``tolerance`` (exactly at it counts); else ``pending`` until
    ``deadline``; then ``partial`` when something was paid, ``broken`` when nothing was."""
    if paid >= amount - tolerance:
        return KEPT
    if now < deadline:
        return PENDING
    return PARTIAL if paid > 0 else BROKEN
