"""What the caller must count from the call ledger before asking the gate, and over which ranges.

The integrator computes these with SQL inside the transaction that records the attempt.
Blocked attempts are not attempts; only dials that were actually placed count. Reg F excludes
calls that never connected to the dialled number (network failure before ringing): leave those
out of ``debtor_attempts_7d`` if the ledger can tell them apart.

Fields (``now`` = evaluation instant, UTC; ranges from ``ledger_ranges``):

- ``unanswered_to_number_today``: attempts to this exact E.164 number that were not answered,
  ``attempted_at >= day_start_utc``.
- ``last_unanswered_to_number_at``: ``max(attempted_at)`` of unanswered attempts to this number
  (any time; NULL if none).
- ``connected_with_debtor_today``: connected (answered) calls with this case's debtor, all numbers
  and all agencies together, ``attempted_at >= day_start_utc``.
- ``debtor_attempts_7d``: ``attempted_at`` of every attempt on this debtor (all numbers),
  ``attempted_at > rolling_7d_start_utc`` (= now - 7 days; a timestamp list, not a count, so the
  gate can tell when the oldest leaves the window).
- ``last_conversation_at``: ``max(attempted_at)`` of calls in which a conversation with the debtor
  took place (NULL if none).
- ``consecutive_failed_own_attempts``: attempts on the debtor's own numbers placed after the last
  connected own-number call (all of them failed by construction).
- ``third_party_calls_to_number``: calls already placed to this third-party number for this case.

"Today" is the callee's local day. With several candidate zones the strictest reading is used:
the day starts at the EARLIEST of the zones' local midnights, so the counted range contains each
zone's own "today" (the count is never lower than in any single zone). Without any zone the day
starts at UTC midnight (the dial is blocked as unknown-timezone anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from compliance.windows import local_date, local_midnight_utc

ROLLING_WINDOW = timedelta(days=7)


class LedgerCounts(BaseModel):
    """Ledger facts the gate needs; see the module docstring for the exact SQL ranges."""

    model_config = ConfigDict(frozen=True)

    unanswered_to_number_today: int = Field(default=0, ge=0)
    last_unanswered_to_number_at: datetime | None = None
    connected_with_debtor_today: int = Field(default=0, ge=0)
    debtor_attempts_7d: tuple[datetime, ...] = ()
    last_conversation_at: datetime | None = None
    consecutive_failed_own_attempts: int = Field(default=0, ge=0)
    third_party_calls_to_number: int = Field(default=0, ge=0)


class LedgerRanges(BaseModel):
    """The UTC ranges the caller counts over: ``[day_start_utc, now]`` and ``(rolling_7d_start_utc, now]``."""

    model_config = ConfigDict(frozen=True)

    now: datetime
    day_start_utc: datetime
    rolling_7d_start_utc: datetime
    day_zone: str


def day_start(now: datetime, zones: Sequence[str]) -> tuple[datetime, str]:
    """Earliest local midnight of ``now``'s local date over ``zones`` (UTC), and the zone giving it."""
    if not zones:
        return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0), "UTC"
    starts = [(local_midnight_utc(zone, local_date(now, zone)), zone) for zone in zones]
    return min(starts)


def next_day_start(now: datetime, zones: Sequence[str]) -> datetime:
    """The instant by which every zone has started a new local day (per-day caps clear then)."""
    if not zones:
        return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return max(local_midnight_utc(zone, local_date(now, zone) + timedelta(days=1)) for zone in zones)


def ledger_ranges(now: datetime, zones: Sequence[str]) -> LedgerRanges:
    """Which UTC ranges to count for ``now`` and the callee's candidate ``zones``."""
    now = now.astimezone(UTC)
    start, zone = day_start(now, zones)
    return LedgerRanges(now=now, day_start_utc=start, rolling_7d_start_utc=now - ROLLING_WINDOW,
                        day_zone=zone)
