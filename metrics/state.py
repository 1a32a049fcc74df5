"""Gauges that are database state, shared by every instance: counted from indexed columns, at most every few seconds.

Counted when ``/metrics`` is scraped, not by a background task: nothing is paid while nobody scrapes, and the
numbers are never older than ``metrics.db_state_max_age_s``. Every query reads an indexed ``state`` column
(``ix_calls_state``, ``ix_recordings_state_next``, ``ix_hook_deliveries_due``); open recording gaps are few
by nature (each is a finding someone acts on). Concurrent scrapes share one count; a database outage keeps the
last numbers and says so (``callguard_db_state_up 0``) instead of failing the scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from core.errors import UpstreamUnavailable
from db.engine import Database
from dialer.models import Call
from dialer.states import CallState
from hooks.models import Delivery
from recordings.models import Recording, RecordingGap

log = logging.getLogger(__name__)

#: recording states that are not finished (``pending``: waiting for ingest; ``failed``: needs a person)
RECORDING_STATES = ("recording", "pending", "failed")
#: webhook delivery states that need attention (``pending``: the backlog; ``dead``: dead letters)
DELIVERY_STATES = ("pending", "dead")


@dataclass(frozen=True, slots=True)
class DbState:
    """One count of the shared state."""

    calls_in_progress: dict[str, int] = field(default_factory=dict)
    recordings: dict[str, int] = field(default_factory=dict)
    recordings_missing: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)


async def count_state(db: Database) -> DbState:
    """Count the calls not ended by state, unfinished recordings, open missing-recording gaps and deliveries."""
    async with db.read() as s:
        calls = (await s.execute(select(Call.state, func.count()).where(Call.state != CallState.ENDED.value)
                                 .group_by(Call.state))).all()
        recs = (await s.execute(select(Recording.state, func.count()).where(Recording.state.in_(RECORDING_STATES))
                                .group_by(Recording.state))).all()
        missing = await s.scalar(select(func.count()).select_from(RecordingGap).where(
            RecordingGap.kind == "missing", RecordingGap.resolved_at.is_(None)))
        deliveries = (await s.execute(select(Delivery.state, func.count()).where(Delivery.state.in_(DELIVERY_STATES))
                                      .group_by(Delivery.state))).all()
    return DbState(calls_in_progress={str(k): int(n) for k, n in calls},
                   recordings={str(k): int(n) for k, n in recs}, recordings_missing=int(missing or 0),
                   deliveries={str(k): int(n) for k, n in deliveries})


class DbStateCache:
    """The last count, refreshed when older than ``max_age`` seconds (on the loop's monotonic clock)."""

    def __init__(self, db: Database, *, max_age: float,
                 count: Callable[[Database], Awaitable[DbState]] = count_state) -> None:
        self.db, self.max_age, self._count = db, max_age, count
        self.state = DbState()
        self.up = False
        self.counted_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Count again if the last count is too old; a scrape arriving meanwhile waits for the same count."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self.counted_at is not None and loop.time() - self.counted_at < self.max_age:
                return
            try:
                self.state = await self._count(self.db)
                self.up = True
            except (UpstreamUnavailable, SQLAlchemyError, OSError) as exc:
                if self.up or self.counted_at is None:  # once when it goes down, not on every scrape
                    log.warning("metrics: database state not counted: %s", exc)
                self.up = False
            self.counted_at = loop.time()
