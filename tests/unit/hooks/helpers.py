"""Shared helpers of the webhook tests: subscriptions, events, a running dispatcher, waiting for state."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select

from config.settings import HookSettings
from core.clock import FakeClock
from core.events import DomainEvent, EventLog
from db.engine import Database
from hooks.delivery import create_session
from hooks.dispatcher import Dispatcher
from hooks.models import Delivery
from hooks.outbox import Outbox
from hooks.service import HookService

T = TypeVar("T")

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
#: only a scripted HANG ever reaches the request timeout: 3 s is far beyond any local reply on a loaded machine,
#: so the exact attempt sequences asserted (500, 503, timeout, 200) cannot shift when CI is slow
SETTINGS = HookSettings(allow_private_targets=True, request_timeout_s=3.0, poll_interval_s=0.02, lease_s=30,
                        concurrency=8, batch_size=50)


def wiring(database: Database, clock: FakeClock) -> tuple[EventLog, HookService]:
    """An EventLog with the outbox installed, and the admin service."""
    events = EventLog()
    Outbox(clock).install(events)
    return events, HookService(db=database, settings=SETTINGS, clock=clock)


async def emit(database: Database, events: EventLog, type_: str, *, case_id: str | None = None,
               call_id: str | None = None, **payload: object) -> str:
    """Record one event in its own transaction; returns its event id."""
    async with database.begin() as s:
        row = await events.record(s, DomainEvent(type=type_, case_id=case_id, call_id=call_id,
                                                 payload=dict(payload)))
    return row.event_id


@contextlib.asynccontextmanager
async def running(database: Database, clock: FakeClock, *, name: str = "d1",
                  settings: HookSettings = SETTINGS) -> AsyncIterator[Dispatcher]:
    """A dispatcher running as a task for the duration of the block (cancelled at exit)."""
    async with create_session(allow_private=True) as session:
        d = Dispatcher(database, settings, session, clock, name=name, rng=random.Random(7))
        task = asyncio.create_task(d.run(), name=f"test-dispatcher-{name}")
        try:
            yield d
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_until(check: Callable[[], Awaitable[bool]], *, clock: FakeClock | None = None,
                     advance_s: float = 0.0, timeout: float = 90.0) -> None:  # noqa: ASYNC109
    """Poll ``check`` until true; optionally move the fake clock forward each round (retries come due).

    The timeout is only a deadline for a broken run (a loaded 2-core machine needs ~15 s for some), never a wait.
    """
    async with asyncio.timeout(timeout):
        while not await check():
            if clock is not None and advance_s:
                clock.advance(seconds=advance_s)
            await asyncio.sleep(0.02)


async def watching(task: asyncio.Task[None], waiting: Awaitable[T]) -> T:
    """Await ``waiting`` while ``task`` (a dispatcher) runs; if the task ends first, raise what ended it."""
    wait = asyncio.ensure_future(waiting)
    try:
        await asyncio.wait({task, wait}, return_when=asyncio.FIRST_COMPLETED)
        if not wait.done():
            raise AssertionError(f"{task.get_name()} stopped while waited on") from task.exception()
        return wait.result()
    finally:
        wait.cancel()


async def states(database: Database) -> dict[str, int]:
    """Delivery count per state."""
    async with database.read() as s:
        rows = (await s.scalars(select(Delivery.state))).all()
    out: dict[str, int] = {}
    for r in rows:
        out[r] = out.get(r, 0) + 1
    return out
