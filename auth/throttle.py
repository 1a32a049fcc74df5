"""Failed sign-ins per client address: slow the failures down, then refuse the address for a while.

The decisions are pure functions of the recent failures (counted in the shared database, so the limit
holds across every instance); the queries sit beside them. Every failure is recorded, but only guesses
(a token or ticket nobody was ever given, a wrong password) count: a revoked or expired token, a
deactivated user or a spent ticket is a client that has not caught up, and a call center behind one NAT
address must not be locked out because one agent's browser keeps presenting its old token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import AuthFailure
from config.settings import AuthSettings

# the failure reasons that count towards the throttle: credentials that never existed
GUESSES = ("unknown-token", "unknown-ticket", "sign-in-failed", "wrong-password")


@dataclass(frozen=True, slots=True)
class RecentFailures:
    """Failures from one address inside the window."""

    count: int
    last_at: datetime | None


def lockout_remaining_s(recent: RecentFailures, now: datetime, s: AuthSettings) -> int:
    """Seconds the address is still refused (0: not refused)."""
    if recent.count < s.lockout_after_failures or recent.last_at is None:
        return 0
    left = (recent.last_at + timedelta(seconds=s.lockout_s) - now).total_seconds()
    return max(0, math.ceil(left))


def failure_delay_s(failures: int, s: AuthSettings) -> float:
    """How long to hold back the answer to the ``failures``-th failure in the window."""
    if failures < s.delay_after_failures:
        return 0.0
    return min(s.max_delay_ms, s.delay_step_ms * (failures - s.delay_after_failures + 1)) / 1000


async def recent_failures(session: AsyncSession, address: str, now: datetime, s: AuthSettings) -> RecentFailures:
    """Count the address's guesses in the window (one indexed range scan)."""
    since = now - timedelta(seconds=s.failure_window_s)
    row = (await session.execute(
        select(func.count(), func.max(AuthFailure.at))
        .where(AuthFailure.address == address, AuthFailure.at >= since, AuthFailure.reason.in_(GUESSES))
    )).one()
    last = row[1]
    if isinstance(last, str):  # SQLite returns max() of a datetime column as text
        last = datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    return RecentFailures(int(row[0]), last)


async def purge_failures(session: AsyncSession, now: datetime, s: AuthSettings) -> int:
    """Forget failures older than both the window and the lockout."""
    horizon = now - timedelta(seconds=max(s.failure_window_s, s.lockout_s))
    result = await session.execute(delete(AuthFailure).where(AuthFailure.at < horizon))
    return int(getattr(result, "rowcount", 0) or 0)
