"""Retry schedule for webhook deliveries: jittered exponential steps over about 3 days (pure).

Schedule (delay after the failed attempt number n, before jitter)::

    n:      1    2     3      4    5    6     7     8     9     10
    delay:  5s   5m    30m    2h   5h   10h   10h   14h   14h   14h

That is 11 attempts in total (the first plus 10 retries), 250,505 s = 69.6 h (2.9 days) of nominal
waiting; after the 11th failed attempt :func:`next_attempt_at` returns ``None`` and the caller moves
the message to the dead letter.

Jitter: each step is multiplied by a uniform factor in [0.8, 1.2] (so the expected total stays the
documented one and simultaneous failures spread out). Full jitter (uniform in [0, d]) was not used on
purpose: it can collapse the whole 3-day window into a few hours when the draws are low, which defeats
the point of riding out a long outage of the case system.

``Retry-After`` from the receiver is honoured as a lower bound (we never come back earlier than asked),
capped at :data:`RETRY_AFTER_CAP` so a hostile or broken receiver cannot park a message for months.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

SCHEDULE_SECONDS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 50400, 50400)
MAX_ATTEMPTS = len(SCHEDULE_SECONDS) + 1
JITTER = 0.2
RETRY_AFTER_CAP = 24 * 3600.0


def nominal_total_seconds() -> int:
    """Sum of the un-jittered schedule: the nominal time from first failure to dead letter."""
    return sum(SCHEDULE_SECONDS)


def next_attempt_at(attempt_no: int, now: datetime, *, retry_after: float | None,
                    rng: random.Random) -> datetime | None:
    """When to try again after failed attempt ``attempt_no`` (1-based), or ``None`` when exhausted."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if attempt_no < 1:
        raise ValueError("attempt_no starts at 1")
    if attempt_no > len(SCHEDULE_SECONDS):
        return None
    base = SCHEDULE_SECONDS[attempt_no - 1]
    delay = base * rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse ``Retry-After`` (delta seconds or HTTP date) into seconds from ``now``; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 HTTP dates are always GMT; email.utils returns naive for "-0000".
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
