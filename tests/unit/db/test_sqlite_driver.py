"""The one-hand-off SQLite cursor answers exactly as SQLAlchemy's own aiosqlite cursor does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.sqlite_driver import sqlite_dbapi

META = MetaData()
THINGS = Table("things", META, Column("id", Integer, primary_key=True), Column("name", String, unique=True),
               Column("n", Integer))


async def _script(engine: AsyncEngine) -> list[Any]:
    """Every kind of statement, and what the driver says about each."""
    out: list[Any] = []
    async with engine.begin() as conn:
        await conn.run_sync(META.create_all)
        r = await conn.execute(insert(THINGS).values(name="a", n=1))
        out.append(("insert", r.rowcount, r.inserted_primary_key))
        r = await conn.execute(insert(THINGS), [{"name": f"m{i}", "n": i} for i in range(5)])  # executemany
        out.append(("insertmany", r.rowcount))
        r = await conn.execute(insert(THINGS).values(name="r", n=7).returning(THINGS.c.id, THINGS.c.name))
        out.append(("returning", r.all()))
        r = await conn.execute(update(THINGS).where(THINGS.c.id == bindparam("i")).values(n=bindparam("v")),
                               [{"i": 2, "v": 20}, {"i": 3, "v": 30}, {"i": 99, "v": 0}])  # executemany
        out.append(("updatemany", r.rowcount))
        r = await conn.exec_driver_sql("UPDATE things SET n = n + ? WHERE id = ?", [(1, 2), (1, 4)])
        out.append(("driver-executemany", r.rowcount))
        r = await conn.execute(update(THINGS).where(THINGS.c.n >= 2).values(n=THINGS.c.n + 10))
        out.append(("update", r.rowcount))
        r = await conn.execute(update(THINGS).where(THINGS.c.n > 100).values(n=0).returning(THINGS.c.id))
        out.append(("update-returning-none", r.all(), r.rowcount))
        r = await conn.execute(delete(THINGS).where(THINGS.c.name == "m0"))
        out.append(("delete", r.rowcount))
        out.append(("select", (await conn.execute(select(THINGS).order_by(THINGS.c.id))).all()))
        out.append(("empty", (await conn.execute(select(THINGS).where(THINGS.c.id < 0))).all()))
        out.append(("text", (await conn.exec_driver_sql("SELECT ?, ?", (1, "x"))).all()))
        r = await conn.execute(select(THINGS.c.name).order_by(THINGS.c.id))
        out.append(("fetchmany", r.fetchmany(2), r.fetchmany(2), r.fetchall()))
        stream = await conn.stream(select(THINGS.c.id).order_by(THINGS.c.id))
        out.append(("stream", [row async for row in stream]))
        with pytest.raises(IntegrityError):
            await conn.execute(insert(THINGS).values(name="a", n=2))
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT * FROM no_such_table"))
        out.append(("after-errors", (await conn.execute(select(THINGS.c.name).where(THINGS.c.id == 1))).all()))
    return out


async def test_the_one_hand_off_cursor_answers_as_sqlalchemys_own(tmp_path: Path) -> None:
    ours = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}", module=sqlite_dbapi())
    stock = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    try:
        assert await _script(ours) == await _script(stock)
    finally:
        await ours.dispose()
        await stock.dispose()
