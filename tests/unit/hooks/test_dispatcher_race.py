"""Two dispatcher instances claiming one outbox at the same moment, on PostgreSQL (``FOR UPDATE SKIP LOCKED``).

Two ``Dispatcher`` objects, each with its own engine over the same database (as two service instances have),
deliver a backlog of many webhooks across several cases to one receiver. The race is forced: both start their
first claim together (a barrier), and the first to have candidates holds its claim transaction open, its rows
selected and not yet leased, until the other has selected too. With the row locks, the second skips the locked
rows; without them, both would lease the same rows and send them twice (checked by hand: see docs/MUTATION.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor
from auth.scope import Scope
from config.settings import DatabaseSettings
from core.clock import FakeClock
from db.engine import Database
from hooks.delivery import create_session
from hooks.dispatcher import Dispatcher, _Claim
from tests.support.receiver import Receiver
from tests.unit.hooks.helpers import SETTINGS, T0, emit, states, wait_until, watching, wiring

pytestmark = pytest.mark.fake_events  # the dispatcher's plumbing, with hand-made events

ADMIN = Actor("admin", "admin")
ALL = Scope.everything()
CASES = [f"case-{c}" for c in range(6)]
PER_CASE = 12
#: a small claim, so the backlog takes many rounds and both instances keep claiming while the other sends
RACE_SETTINGS = SETTINGS.model_copy(update={"batch_size": 10, "concurrency": 4})


class _Race:
    """The rendezvous of the two instances' first claims."""

    def __init__(self) -> None:
        self.start = asyncio.Barrier(2)
        self.selected: dict[str, asyncio.Event] = {}  # name -> its first claim has selected its candidates
        self.blocked: list[str] = []  # instances whose held claim made the other's SELECT wait for a lock

    def peer_selected(self, name: str) -> asyncio.Event:
        return next(e for n, e in self.selected.items() if n != name)


class RacingDispatcher(Dispatcher):
    """A dispatcher whose first claim starts with its peer's, and holds its transaction open (candidates
    selected and, on PostgreSQL, locked; nothing leased yet) until the peer has selected as well."""

    def __init__(self, db: Database, session: aiohttp.ClientSession, clock: FakeClock, *, name: str,
                 race: _Race) -> None:
        super().__init__(db, RACE_SETTINGS, session, clock, name=name, rng=random.Random(7))
        self.race = race
        self.first = True
        race.selected[self.name] = asyncio.Event()

    async def claim(self, limit: int) -> _Claim:
        if not self.first:
            return await super().claim(limit)
        self.first = False
        await self.race.start.wait()
        try:
            return await super().claim(limit)
        finally:
            self.race.selected[self.name].set()  # no candidates at all (or done): selected, too

    async def _heads(self, s: AsyncSession, cands: list[tuple[int, str, str | None, int]]) -> list[list[int]]:
        mine = self.race.selected[self.name]
        if not mine.is_set():
            mine.set()
            peer = self.race.peer_selected(self.name)
            while not peer.is_set():  # a condition polled, as wait_until does; no fixed wait
                if await self._someone_waits_on_a_lock():
                    self.race.blocked.append(self.name)  # the peer's SELECT queues behind our row locks
                    break
                await asyncio.sleep(0.01)
        return await super()._heads(s, cands)

    async def _someone_waits_on_a_lock(self) -> bool:
        async with self.db.read() as r:
            n = await r.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'"))
        return bool(n)


@contextlib.asynccontextmanager
async def instance(url: str, clock: FakeClock, race: _Race, name: str) -> AsyncIterator[
        tuple[RacingDispatcher, asyncio.Task[None]]]:
    """One service instance's dispatcher: its own engine and HTTP session, running as a task."""
    async with Database(DatabaseSettings(url=url, migrate_on_start=False)) as db, \
            create_session(allow_private=True) as session:
        d = RacingDispatcher(db, session, clock, name=name, race=race)
        task = asyncio.create_task(d.run(), name=f"test-dispatcher-{name}")
        try:
            yield d, task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_two_instances_claiming_at_once_deliver_each_webhook_once_in_case_order(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    async with Receiver(secret="", script=[]) as rx:
        _sub, secret = await svc.create(ALL, url=rx.url, event_types=["*"], description="", actor=ADMIN)
        rx.secret = secret
        for n in range(PER_CASE):
            for case in CASES:
                await emit(database, events, "case.updated", case_id=case, n=n)
        total = len(CASES) * PER_CASE
        race = _Race()
        async with instance(database.url, clock, race, "a") as (a, task_a), \
                instance(database.url, clock, race, "b") as (b, task_b):
            async def delivered() -> bool:
                return (await states(database)).get("delivered", 0) == total

            both = asyncio.gather(watching(task_a, wait_until(delivered)), watching(task_b, wait_until(delivered)))
            await both
    assert not race.blocked, "the second claim waited for the first's row locks instead of skipping them"
    assert not rx.duplicates(), f"{len(rx.duplicates())} webhooks sent more than once"
    assert len(rx.requests) == total and all(r.verified and r.answered == 200 for r in rx.requests)
    groups = rx.by_case()
    assert set(groups) == set(CASES)
    for case in CASES:
        assert [int(r.json["data"]["n"]) for r in groups[case]] == list(range(PER_CASE)), case
    assert a.name != b.name
