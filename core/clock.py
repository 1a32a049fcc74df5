"""Time: one injectable clock so policies and tests never read the wall clock directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock:
    """The real clock (aware UTC)."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FakeClock(Clock):
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        """The fake current instant."""
        return self._now

    def advance(self, **delta: float) -> None:
        """Move time forward."""
        self._now += timedelta(**delta)

    def set(self, at: datetime) -> None:
        """Jump to ``at``."""
        self._now = at


def iso_or_none(value: datetime | None) -> str | None:
    """ISO 8601 text of an instant, or None."""
    return value.isoformat() if value else None


@lru_cache(maxsize=64)
def whole_hour_zone(name: str) -> bool:
    """Whether IANA zone ``name`` exists and its UTC offset was a whole hour every week of 1970-2100."""
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    t = datetime(1970, 1, 1, tzinfo=UTC)
    while t.year <= 2100:
        off = t.astimezone(tz).utcoffset()
        if off is None or off.total_seconds() % 3600:
            return False
        t += timedelta(days=7)
    return True
