"""Time: one injectable clock so policies and tests never read the wall clock directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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
