"""The live event stream: tails the domain event log so every instance sees every event.

Any instance may have made the change (several service instances share the database), so the
stream reads the log rather than an in-process bus. Commits on this instance wake it at once;
otherwise it polls.

Each poll reads only what is new: the rows above the highest id seen, and the ids below it not seen yet
(*gaps*). PostgreSQL hands out sequence values at insert time, so a transaction that took a lower id can
commit after one that took a higher id; its row then fills a gap and is delivered late, once. A gap is
forgotten after ``gap_grace_s`` (a rolled-back insert leaves one forever) or when more than ``max_gaps`` are
open. Each event is serialised once, for all subscribers: its JSON text and its SSE message. A subscriber
takes what is queued for it at once (``subscribe_batches``), so a stream writes the events of one commit in
one go.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from core.events import event_to_json
from core.models import DomainEventRow
from core.tasks import wait_set
from db.engine import Database

log = logging.getLogger(__name__)

Filter = Callable[[dict[str, Any]], bool]
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Published:
    """One event as subscribers receive it: its public JSON form, that form as text, and the Server-Sent
    Events message carrying it (``id`` its seq, ``event`` its type), each made once for every subscriber."""

    data: dict[str, Any]
    text: str
    frame: bytes


def sse_frame(data: dict[str, Any], text: str) -> bytes:
    """The SSE message of an event, byte for byte as ``aiohttp_sse``'s ``send(text, id=seq, event=type)``
    writes it (``\r\n`` line ends; a line of ``text`` per ``data:`` field)."""
    lines = "".join(f"data: {chunk}\r\n" for chunk in _LINE_BREAK.split(text))
    return f"id: {data['seq']}\r\nevent: {data['type']}\r\n{lines}\r\n".encode()


class EventStream:
    """Fans new domain events out to subscribers (SSE clients)."""

    def __init__(self, db: Database, *, poll_interval: float = 0.25, lookback: int = 500,
                 gap_grace_s: float = 60.0, max_gaps: int = 2000, batch: int = 2000, queue_size: int = 1000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.lookback = lookback  # at start: how far below the newest id a late commit is still awaited
        self.gap_grace_s = gap_grace_s
        self.max_gaps = max_gaps
        self.batch = batch
        self.queue_size = queue_size
        self._monotonic = monotonic
        self._subs: set[asyncio.Queue[Published | None]] = set()
        self._wake = asyncio.Event()
        self._subscribed = asyncio.Condition()
        self._high = 0  # the highest id seen
        self._gaps: OrderedDict[int, float] = OrderedDict()  # ids below _high not seen yet -> when first missed

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
        """Start after the newest existing event; ids missing from the ``lookback`` below it are gaps."""
        async with self.db.read() as s:
            high = int((await s.scalar(select(func.max(DomainEventRow.id)))) or 0)
            recent = set((await s.scalars(select(DomainEventRow.id)
                                          .where(DomainEventRow.id > high - self.lookback))).all())
        now = self._monotonic()
        self._high = high
        self._gaps = OrderedDict((i, now) for i in range(max(high - self.lookback, 0) + 1, high + 1)
                                 if i not in recent)

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
        now = self._monotonic()
        while self._gaps and next(iter(self._gaps.values())) < now - self.gap_grace_s:
            self._gaps.popitem(last=False)
        new = DomainEventRow.id > self._high
        where = or_(new, DomainEventRow.id.in_(list(self._gaps))) if self._gaps else new
        async with self.db.read() as s:
            rows = (await s.scalars(select(DomainEventRow).where(where).order_by(DomainEventRow.id)
                                    .limit(self.batch))).all()
        for row in rows:
            if row.id > self._high:
                skipped = range(max(self._high + 1, row.id - self.max_gaps), row.id)
                self._gaps.update((i, now) for i in skipped)
                self._high = row.id
            elif self._gaps.pop(row.id, None) is None:
                continue  # delivered already
            self._publish(row)
        while len(self._gaps) > self.max_gaps:
            self._gaps.popitem(last=False)
        if len(rows) == self.batch:
            self._wake.set()  # more are waiting: read on without the poll interval

    def _publish(self, row: DomainEventRow) -> None:
        data = event_to_json(row)
        text = json.dumps(data, ensure_ascii=False)
        item = Published(data, text, sse_frame(data, text))
        for q in list(self._subs):
            if q.full():
                continue  # a stalled client misses events rather than stalling everyone
            q.put_nowait(item)

    async def subscribe(self, keep: Filter, *, tick: float | None = None
                        ) -> AsyncGenerator[Published | None, None]:
        """Yield every new event ``keep`` accepts until the subscriber leaves or shutdown; with ``tick``, also
        ``None`` whenever ``tick`` seconds passed without one (the subscriber's moment to re-check itself)."""
        async with contextlib.aclosing(self.subscribe_batches(keep, tick=tick)) as batches:
            async for batch in batches:
                if batch is None:
                    yield None
                    continue
                for item in batch:
                    yield item

    async def subscribe_batches(self, keep: Filter, *, tick: float | None = None
                                ) -> AsyncGenerator[list[Published] | None, None]:
        """As ``subscribe``, but each time everything queued for the subscriber (never an empty list): the
        events of one commit come together, for one write."""
        q: asyncio.Queue[Published | None] = asyncio.Queue(self.queue_size)
        if not self._subs:
            # nobody was listening, so the log was not read: skip what was committed before this subscription
            # (an old session event would otherwise end a new sign-in's stream, an old call event mislead it)
            await self.start_position()
        self._subs.add(q)
        try:
            async with self._subscribed:
                self._subscribed.notify_all()
            while True:
                if tick is None or not q.empty():
                    item = await q.get()
                else:
                    try:
                        async with asyncio.timeout(tick):
                            item = await q.get()
                    except TimeoutError:
                        yield None
                        continue
                batch: list[Published] = []
                while item is not None:
                    if keep(item.data):
                        batch.append(item)
                    if q.empty():
                        break
                    item = q.get_nowait()
                if batch:
                    yield batch
                if item is None:
                    return
        finally:
            self._subs.discard(q)

    def close(self) -> None:
        """End every subscription."""
        for q in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
