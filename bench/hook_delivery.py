"""Webhook delivery throughput and outbox-to-delivered latency against a local receiver.

hook_delivery_events_per_s: N events already in the outbox (many cases, a few events each), one
dispatcher, SQLite; baseline: a plain aiohttp POST loop (same concurrency, same bodies, no outbox, no
signing, no bookkeeping) to the same receiver: the floor.
hook_outbox_to_delivered_p99_ms: events recorded at a steady rate while the dispatcher runs; the p99 of
(delivered - recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select

from audit.service import Actor
from auth.scope import Scope

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import db.metadata  # noqa: E402,F401
from bench._common import record  # noqa: E402
from config.settings import DatabaseSettings, HookSettings  # noqa: E402
from core.clock import Clock  # noqa: E402
from core.events import DomainEvent, EventLog  # noqa: E402
from db.base import Base  # noqa: E402
from db.engine import Database  # noqa: E402
from hooks.dispatcher import Dispatcher  # noqa: E402
from hooks.models import Delivery  # noqa: E402
from hooks.outbox import Outbox  # noqa: E402
from hooks.service import HookService  # noqa: E402

N = 5000
CASES = 1000
SETTINGS = HookSettings(allow_private_targets=True, request_timeout_s=5, poll_interval_s=0.05, batch_size=500,
                        concurrency=32)


async def receiver() -> tuple[web.AppRunner, str]:
    async def ok(_r: web.Request) -> web.Response:
        await _r.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"


async def baseline(url: str) -> float:
    body = b'{"type":"case.updated","timestamp":"2025-01-01T00:00:00+00:00","data":{"case_id":"x"}}'
    sem = asyncio.Semaphore(SETTINGS.concurrency)
    async with aiohttp.ClientSession() as s:
        async def one() -> None:
            async with sem, s.post(url, data=body) as r:
                await r.read()

        t = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(N)))
        return N / (time.perf_counter() - t)


async def emit(database: Database, events: EventLog, count: int, start: int) -> None:
    async with database.begin() as s:
        for i in range(start, start + count):
            await events.record(s, DomainEvent(type="case.updated", case_id=f"case-{i % CASES}", payload={"n": i}))


async def delivered(database: Database) -> int:
    async with database.read() as s:
        return len((await s.scalars(select(Delivery.id).where(Delivery.state == "delivered"))).all())


async def main() -> None:
    runner, url = await receiver()
    floor = await baseline(url)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp}/b.db", migrate_on_start=False))
        async with database:
            async with database.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            clock = Clock()
            events = EventLog()
            Outbox(clock).install(events)
            await HookService(db=database, settings=SETTINGS, clock=clock).create(
                Scope.everything(), url=url, event_types=["*"], description="bench", actor=Actor("bench", "admin"))
            for start in range(0, N, 500):
                await emit(database, events, 500, start)
            d = Dispatcher(database, SETTINGS, None, clock, name="bench")
            t = time.perf_counter()
            task = asyncio.create_task(d.run(), name="bench-dispatcher")
            while await delivered(database) < N:  # noqa: ASYNC110 - polling the database is the point
                await asyncio.sleep(0.05)
            rate = N / (time.perf_counter() - t)
            # latency: a steady trickle while the dispatcher runs
            events.add_commit_listener(d.wake)
            for k in range(100):
                await emit(database, events, 10, N + k * 10)  # the commit wakes the dispatcher
                await asyncio.sleep(0.02)
            while await delivered(database) < N + 1000:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            async with database.read() as s:
                rows = (await s.execute(select(Delivery.created_at, Delivery.finished_at)
                                        .where(Delivery.event_seq > N))).all()
    await runner.cleanup()
    lat = sorted((f - c).total_seconds() * 1000 for c, f in rows)
    p99 = lat[int(len(lat) * 0.99) - 1]
    record("hook_delivery_events_per_s", "events/s", round(rate, 1), {"plain_aiohttp_post_loop": round(floor, 1)})
    record("hook_outbox_to_delivered_p99_ms", "ms", round(p99, 1), {})
    print(f"hook_delivery_events_per_s={rate:.0f} (floor {floor:.0f}); outbox->delivered p99={p99:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
