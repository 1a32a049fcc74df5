"""When a promise to pay is due and whether it is kept: pure functions of its facts (tested with plain values)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payments.models import BROKEN, KEPT, PENDING


def deadline(promise_date: date, grace_days: int, zone: str | None) -> datetime:
    """The end of ``promise_date`` + ``grace_days`` (local midnight after it) in the case's zone, in UTC;
    a case without a (known) zone is read in UTC."""
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    end = datetime.combine(promise_date + timedelta(days=grace_days + 1), time(0), tzinfo=tz)
    return end.astimezone(UTC)


def status(*, amount: Decimal, paid: Decimal, deadline: datetime, now: datetime) -> str:
    """``kept`` once ``paid`` covers ``amount``; else ``broken`` once ``deadline`` has passed; else ``pending``."""
    if paid >= amount:
        return KEPT
    return BROKEN if now >= deadline else PENDING
