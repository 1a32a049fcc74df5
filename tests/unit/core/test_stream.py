"""The live stream's tail of the event log: every committed event reaches each subscriber once, in commit
order, including one whose id was taken before a higher id committed (PostgreSQL sequences); a gap is
awaited for ``gap_grace_s``, then forgotten; each event is serialised once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator

import pytest

from core.models import DomainEventRow
from core.stream import EventStream, Published
from db.engine import Database

pytestmark = pytest.mark.fake_events


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def commit(db: Database, *ids: int) -> None:
    async with db.begin() as s:
        for i in ids:
            s.add(DomainEventRow(id=i, event_id=str(uuid.uuid4()), type="case.updated", client_id="bank-a",
                                 payload={"n": i, "name": "王五"}))


async def received(sub: AsyncGenerator[Published | None, None], n: int) -> list[int]:
    out = []
    async with asyncio.timeout(5):
        while len(out) < n:
            item = await anext(sub)
            assert item is not None
            out.append(item.data["seq"])
    return out


def queued(stream: EventStream) -> int:
    return sum(q.qsize() for q in stream._subs)


async def test_each_event_once_in_commit_order_and_a_late_lower_id_once(db: Database) -> None:
    await commit(db, 1, 2)  # before the subscription: not sent
    clock = Clock()
    stream = EventStream(db, monotonic=clock)
    sub = stream.subscribe(lambda _e: True)
    first = asyncio.ensure_future(anext(sub))
    await stream.wait_for_subscribers(1)
    await commit(db, 3, 5)  # 4 was taken by a transaction still open
    await stream._poll()
    got = [(await first)]
    assert got[0] is not None and got[0].data["seq"] == 3
    assert await received(sub, 1) == [5]
    await stream._poll()
    assert queued(stream) == 0  # nothing twice
    await commit(db, 4)  # ...which commits now: delivered late, once
    await stream._poll()
    await stream._poll()
    assert await received(sub, 1) == [4]
    assert queued(stream) == 0
    await commit(db, 6)
    await stream._poll()
    assert await received(sub, 1) == [6]
    await sub.aclose()
    assert stream.subscribers == 0


async def test_a_gap_is_forgotten_after_its_grace(db: Database) -> None:
    clock = Clock()
    stream = EventStream(db, gap_grace_s=60, monotonic=clock)
    sub = stream.subscribe(lambda _e: True)
    pending = asyncio.ensure_future(anext(sub))
    await stream.wait_for_subscribers(1)
    await commit(db, 1, 3)
    await stream._poll()
    assert (await pending) is not None
    assert await received(sub, 1) == [3]
    clock.t += 61  # 2 was rolled back (or its transaction outlived the grace)
    await commit(db, 2)
    await stream._poll()
    assert queued(stream) == 0
    await sub.aclose()


async def test_ids_missing_at_the_start_are_awaited(db: Database) -> None:
    await commit(db, 1, 2, 4)  # 3 is taken, not committed, when the first subscriber comes
    stream = EventStream(db, lookback=10, monotonic=Clock())
    sub = stream.subscribe(lambda _e: True)
    pending = asyncio.ensure_future(anext(sub))
    await stream.wait_for_subscribers(1)
    await commit(db, 3)
    await stream._poll()
    item = await pending
    assert item is not None and item.data["seq"] == 3
    await stream._poll()
    assert queued(stream) == 0
    await sub.aclose()


async def test_one_serialisation_for_every_subscriber_and_each_subscribers_filter(db: Database) -> None:
    stream = EventStream(db, monotonic=Clock())
    everything = stream.subscribe(lambda _e: True)
    odd = stream.subscribe(lambda e: e["seq"] % 2 == 1)
    a, b = asyncio.ensure_future(anext(everything)), asyncio.ensure_future(anext(odd))
    await stream.wait_for_subscribers(2)
    await commit(db, 1, 2, 3)
    await stream._poll()
    first_a, first_b = await a, await b
    assert first_a is not None and first_a is first_b  # the same object: serialised once
    assert json.loads(first_a.text) == first_a.data and "王五" in first_a.text  # not \u-escaped
    assert await received(everything, 2) == [2, 3]
    assert await received(odd, 1) == [3]
    await everything.aclose()
    await odd.aclose()


async def test_a_tick_when_nothing_comes_and_the_loop_wakes_on_commit(db: Database) -> None:
    stream = EventStream(db, poll_interval=30, monotonic=Clock())
    runner = asyncio.create_task(stream.run())
    sub = stream.subscribe(lambda _e: True, tick=0.05)
    try:
        async with asyncio.timeout(5):
            assert await anext(sub) is None  # idle: the subscriber's moment to re-check itself
        await commit(db, 1)
        stream.wake()  # a commit on this instance wakes the loop (the poll interval is 30 s)
        assert await received_skipping_ticks(sub) == 1
    finally:
        await sub.aclose()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def received_skipping_ticks(sub: AsyncGenerator[Published | None, None]) -> int:
    async with asyncio.timeout(5):
        while True:
            item = await anext(sub)
            if item is not None:
                return int(item.data["seq"])


async def test_a_batch_subscriber_gets_what_one_poll_published_at_once_filtered_and_sse_framed(db: Database) -> None:
    stream = EventStream(db, monotonic=Clock())
    sub = stream.subscribe_batches(lambda e: e["seq"] not in (8, 10))
    first = asyncio.ensure_future(anext(sub))
    await stream.wait_for_subscribers(1)
    await commit(db, 7, 8, 9)
    await stream._poll()
    async with asyncio.timeout(5):
        batch = await first
    assert batch is not None and [p.data["seq"] for p in batch] == [7, 9]  # one list, 8 filtered out
    # the message aiohttp_sse's send(text, id=seq, event=type) would write, made once for every stream
    text = batch[0].text
    assert batch[0].frame == f"id: 7\r\nevent: case.updated\r\ndata: {text}\r\n\r\n".encode()
    assert json.loads(text)["data"]["name"] == "王五"
    await commit(db, 10)  # only filtered events: nothing is yielded
    await stream._poll()
    stream.close()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    assert stream.subscribers == 0
