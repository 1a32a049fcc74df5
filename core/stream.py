"""The live event stream: tails the domain event log so every instance sees every event.

Any instance may have made the change (several service instances share the database), so the
stream reads the log rather than an in-process bus. Commits on this instance wake it at once;
otherwise it polls. Ids are re-read in a short look-back window because PostgreSQL sequence values
can commit out of order; already-delivered ids are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from typing import Any

from sqlalchemy import func, select

from core.events import event_to_json
from core.models import DomainEventRow
from core.tasks import wait_set
from db.engine import Database

log = logging.getLogger(__name__)

Filter = Callable[[dict[str, Any]], bool]


class EventStream:
    """Fans new domain events out to subscribers (SSE clients)."""

    def __init__(self, db: Database, *, poll_interval: float = 0.25, lookback: int = 500,
                 queue_size: int = 1000) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.lookback = lookback
        self.queue_size = queue_size
        self._subs: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._wake = asyncio.Event()
        self._subscribed = asyncio.Condition()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._high = 0

    @property
    def subscribers(self) -> int:
        """How many streams are open on this instance now."""
        return len(self._subs)

    async def wait_for_subscribers(self, n: int) -> None:
        """Return once at least ``n`` subscriptions are live (every event committed from then on reaches them)."""
        async with self._subscribed:
            await self._subscribed.wait_for(lambda: len(self._subs) >= n)

    def wake(self) -> None:
        """New events may have been committed here: read now."""
        self._wake.set()

    async def start_position(self) -> None:
        """Start after the newest existing event."""
        async with self.db.read() as s:
            self._high = int((await s.scalar(select(func.max(DomainEventRow.id)))) or 0)
            old = (await s.scalars(select(DomainEventRow.id)
                                   .where(DomainEventRow.id > self._high - self.lookback))).all()
        self._seen.update((i, None) for i in old)

    async def run(self) -> None:
        """The tailing loop (a tracked task of the composition root)."""
        started = False  # the start position is read once, and again after a failure to read it
        first = True
        while True:
            if not first:
                await wait_set(self._wake, self.poll_interval)
                self._wake.clear()
            first = False
            try:
                if not started:
                    await self.start_position()
                    started = True
                if not self._subs:
                    continue
                await self._poll()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the stream
                log.warning("event stream poll failed", exc_info=True)

    async def _poll(self) -> None:
        async with self.db.read() as s:
            rows = (await s.scalars(
                select(DomainEventRow).where(DomainEventRow.id > self._high - self.lookback)
                .order_by(DomainEventRow.id).limit(2000)
            )).all()
        for row in rows:
            if row.id in self._seen:
                continue
            self._seen[row.id] = None
            self._high = max(self._high, row.id)
            data = event_to_json(row)
            for q in list(self._subs):
                if q.full():
                    continue  # a stalled client misses events rather than stalling everyone
                q.put_nowait(data)
        while len(self._seen) > self.lookback * 4:
            self._seen.popitem(last=False)

    async def subscribe(self, keep: Filter) -> AsyncGenerator[dict[str, Any], None]:
        """Yield every new event ``keep`` accepts until the subscriber leaves or shutdown."""
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self.queue_size)
        if not self._subs:
            # nobody was listening, so the log was not read: skip what was committed before this subscription
            # (an old session event would otherwise end a new sign-in's stream, an old call event mislead it)
            await self.start_position()
        self._subs.add(q)
        try:
            async with self._subscribed:
                self._subscribed.notify_all()
            while True:
                item = await q.get()
                if item is None:
                    return
                if keep(item):
                    yield item
        finally:
            self._subs.discard(q)

    def close(self) -> None:
        """End every subscription."""
        for q in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
