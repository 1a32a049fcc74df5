"""SQLite write transactions queue on the process's write lock: no busy-handler collisions, no leaked lock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from auth.models import Role, User
from auth.service import create_user
from config.settings import DatabaseSettings
from core.errors import UpstreamUnavailable
from db.engine import Database
from db.migrate import migrate


async def test_concurrent_writers_queue_before_begin_immediate(sqlite_db: Database) -> None:
    """30 concurrent write transactions: at most one connection is ever issuing or inside BEGIN IMMEDIATE.

    Without the queue, every pooled connection issues its BEGIN IMMEDIATE at once and all but one sit in
    SQLite's busy handler (sleep-and-poll).
    """
    db = sqlite_db
    state = {"now": 0, "max": 0}

    def beginning(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])

    def ended(_conn: Any) -> None:
        state["now"] -= 1

    # before the driver runs the statement (and, on a collision, waits in SQLite's busy handler)
    event.listen(db.engine.sync_engine, "before_cursor_execute", beginning)
    event.listen(db.engine.sync_engine, "commit", ended)
    event.listen(db.engine.sync_engine, "rollback", ended)

    async def write(i: int) -> None:
        async with db.begin() as s:
            await create_user(s, user_id=f"u{i}", role=Role.ADMIN)
            await asyncio.sleep(0)  # hold the transaction across a suspension point

    await asyncio.gather(*(write(i) for i in range(30)))
    assert state == {"now": 0, "max": 1}
    async with db.read() as s:
        assert len((await s.scalars(select(User.id))).all()) == 30


async def test_a_cancelled_waiter_does_not_keep_the_lock(sqlite_db: Database) -> None:
    db = sqlite_db
    inside, finish = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.begin() as s:
            await create_user(s, user_id="holder", role=Role.ADMIN)
            inside.set()
            await finish.wait()

    async def waiter() -> None:
        async with db.begin() as s:
            await create_user(s, user_id="waiter", role=Role.ADMIN)

    hold = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(waiter())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # queued behind the holder
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    finish.set()
    await hold
    async with asyncio.timeout(10):  # a leaked lock would hang here
        async with db.begin() as s:
            await create_user(s, user_id="after", role=Role.ADMIN)
    async with db.read() as s:
        assert sorted((await s.scalars(select(User.id))).all()) == ["after", "holder"]


async def test_a_transaction_cancelled_inside_releases_the_lock(sqlite_db: Database) -> None:
    db = sqlite_db
    inside = asyncio.Event()

    async def stuck() -> None:
        async with db.begin() as s:
            await create_user(s, user_id="never", role=Role.ADMIN)
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10):
        async with db.begin() as s:
            await create_user(s, user_id="next", role=Role.ADMIN)
    async with db.read() as s:
        assert (await s.scalars(select(User.id))).all() == ["next"]  # the cancelled one rolled back


async def test_waiting_longer_than_the_busy_timeout_is_database_unavailable(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}", sqlite_busy_timeout_ms=50)
    async with Database(settings) as db:
        await migrate(db)
        inside, finish = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with db.begin() as s:
                await create_user(s, user_id="holder", role=Role.ADMIN)
                inside.set()
                await finish.wait()

        hold = asyncio.create_task(holder())
        await inside.wait()
        with pytest.raises(UpstreamUnavailable) as err:
            async with db.begin() as s:
                await create_user(s, user_id="late", role=Role.ADMIN)
        assert err.value.upstream == "database"
        finish.set()
        await hold
        async with db.begin() as s:  # the timed-out waiter left the lock free
            await create_user(s, user_id="later", role=Role.ADMIN)


async def test_a_nested_begin_does_not_deadlock_on_the_lock(tmp_path: Path) -> None:
    """A nested write transaction gets SQLite's own answer (locked -> unavailable), not a hang."""
    settings = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}", sqlite_busy_timeout_ms=50)
    async with Database(settings) as db:
        await migrate(db)
        async with asyncio.timeout(10):
            async with db.begin() as outer:
                await create_user(outer, user_id="outer", role=Role.ADMIN)
                with pytest.raises(UpstreamUnavailable):
                    async with db.begin() as inner:
                        await create_user(inner, user_id="inner", role=Role.ADMIN)
        async with db.read() as s:
            assert (await s.scalars(select(User.id))).all() == ["outer"]
