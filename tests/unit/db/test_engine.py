"""The database layer on both backends: migrations, aware UTC times, no lost read-modify-write updates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from auth.models import Role, User
from auth.service import create_user
from db.engine import Database


async def test_migrations_create_the_schema_and_times_come_back_aware_utc(db: Database) -> None:
    async with db.begin() as s:
        user = await create_user(s, user_id="u1", role=Role.ADMIN)
        user.created_at = datetime(2026, 3, 8, 3, 30, tzinfo=timezone(timedelta(hours=-4)))
    async with db.read() as s:
        got = await s.get(User, "u1")
        assert got is not None
        assert got.created_at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
        assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.begin() as s:
            user = await create_user(s, user_id="u2", role=Role.ADMIN)
            user.created_at = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    async with db.read() as s:
        assert await s.get(User, "u2") is None  # the whole unit of work was rolled back


async def test_concurrent_read_modify_write_loses_nothing(db: Database) -> None:
    """20 tasks x 25 read-then-update of one row: BEGIN IMMEDIATE (SQLite) / FOR UPDATE (PostgreSQL)."""
    async with db.begin() as s:
        await create_user(s, user_id="counter", role=Role.ADMIN, display_name="0")

    async def bump() -> None:
        for _ in range(25):
            async with db.begin() as s:
                user = (await s.execute(db.for_update(select(User).where(User.id == "counter")))).scalar_one()
                await asyncio.sleep(0)  # let the others interleave between the read and the write
                user.display_name = str(int(user.display_name) + 1)

    await asyncio.gather(*(bump() for _ in range(20)))
    async with db.read() as s:
        user = await s.get(User, "counter")
        assert user is not None and user.display_name == "500"
