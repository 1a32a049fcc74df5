"""The database-state count behind /metrics: at most every ``max_age`` seconds, shared by concurrent scrapes,
the last numbers kept (and said to be stale) while the database is down."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import OperationalError

from core.errors import UpstreamUnavailable
from db.engine import Database
from metrics.state import DbState, DbStateCache, count_state


async def test_an_empty_database_counts_nothing(db: Database) -> None:
    assert await count_state(db) == DbState()


async def test_counts_are_cached_shared_and_kept_through_an_outage(db: Database) -> None:
    counted: list[int] = []
    down = False
    gate = asyncio.Event()

    async def count(_db: Database) -> DbState:
        await gate.wait()
        if down:
            raise UpstreamUnavailable("database", "the database is unavailable")
        counted.append(1)
        return DbState(recordings_missing=len(counted))

    cache = DbStateCache(db, max_age=3600, count=count)
    scrapes = [asyncio.create_task(cache.refresh()) for _ in range(3)]
    gate.set()
    await asyncio.gather(*scrapes)
    assert (len(counted), cache.state.recordings_missing, cache.up) == (1, 1, True)  # one count for three
    await cache.refresh()
    assert len(counted) == 1  # fresh enough: not counted again

    cache.max_age = 0
    await cache.refresh()
    assert cache.state.recordings_missing == 2
    down = True
    await cache.refresh()
    assert (cache.state.recordings_missing, cache.up) == (2, False)  # the last numbers, marked stale


async def test_a_driver_error_is_an_outage_too(db: Database) -> None:
    async def count(_db: Database) -> DbState:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    cache = DbStateCache(db, max_age=0, count=count)
    await cache.refresh()
    assert cache.up is False and cache.state == DbState()
