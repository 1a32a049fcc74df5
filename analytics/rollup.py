"""Keep ``call_rollup_hourly`` equal to the raw calls: recompute dirty hours, or rebuild everything.

Correctness: a call change and its hour's dirty mark commit together (triggers, ``analytics.ddl``).
``refresh`` locks a set of dirty marks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer),
replaces those hours' rollup rows by a fresh aggregation of the raw calls and deletes the marks, all in one
transaction. A call change racing with it blocks on the locked mark and re-creates it after the commit, so
it is picked up next time. Reports never trust a dirty hour: they read it from the raw calls.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import daily
from analytics.measures import calls, raw_hourly, raw_talk_hourly
from analytics.models import DIM_COLUMNS, MEASURE_COLUMNS, dirty, rollup, talk_hist, zones
from core.errors import UpstreamUnavailable
from db.dialect import dialect_of
from db.engine import Database

log = logging.getLogger(__name__)


def _in_dirty(stmt: Any, hours: list[int]) -> Any:
    return (stmt.join(dirty, and_(calls.c.created_at >= dirty.c.starts_at, calls.c.created_at < dirty.c.ends_at))
            .where(dirty.c.hour.in_(hours)))


def _recompute_stmts(dialect: str, hours: list[int]) -> list[Any]:
    stmt, group = raw_hourly(dialect)
    tstmt, tgroup = raw_talk_hourly(dialect)
    return [insert(rollup).from_select(["hour", *DIM_COLUMNS, *MEASURE_COLUMNS],
                                       _in_dirty(stmt, hours).group_by(*group)),
            insert(talk_hist).from_select(["hour", *DIM_COLUMNS, "sec", "n"],
                                          _in_dirty(tstmt, hours).group_by(*tgroup))]


async def refresh_once(session: AsyncSession, *, batch: int = 200) -> int:
    """Recompute up to ``batch`` dirty hours in the caller's transaction; returns how many."""
    dialect = dialect_of(session)
    await daily.serialise(session)
    pick = select(dirty.c.hour).order_by(dirty.c.hour).limit(batch).with_for_update(skip_locked=True)
    hours = list((await session.execute(pick)).scalars())
    if not hours:
        return 0
    await session.execute(delete(rollup).where(rollup.c.hour.in_(hours)))
    await session.execute(delete(talk_hist).where(talk_hist.c.hour.in_(hours)))
    for stmt in _recompute_stmts(dialect, hours):
        await session.execute(stmt)
    await daily.recompute_hours(session, hours)
    await session.execute(delete(dirty).where(dirty.c.hour.in_(hours)))
    return len(hours)


async def refresh(db: Database, *, batch: int = 200) -> int:
    """Build registered zones not built yet, then recompute every dirty hour, one transaction per batch.

    Returns the number of hours recomputed.
    """
    async with db.begin() as s:
        await daily.serialise(s)
        await daily.build_unbuilt(s, datetime.now(UTC))
    total = 0
    while True:
        async with db.begin() as s:
            n = await refresh_once(s, batch=batch)
        total += n
        if n < batch:
            return total


async def rebuild(db: Database) -> int:
    """Recompute the whole rollup from the raw calls (after a bulk load or to repair); returns rollup rows."""
    async with db.begin() as s:
        dialect = dialect_of(s)
        await daily.serialise(s)  # with concurrent refreshes; reports are not blocked
        # marks first, then the aggregation: a change committed after the mark deletion waits on it or is
        # visible to the aggregation (READ COMMITTED takes a new snapshot per statement).
        await s.execute(delete(dirty))
        await s.execute(delete(rollup))
        await s.execute(delete(talk_hist))
        stmt, group = raw_hourly(dialect)
        await s.execute(insert(rollup).from_select(["hour", *DIM_COLUMNS, *MEASURE_COLUMNS],
                                                   stmt.group_by(*group)))
        tstmt, tgroup = raw_talk_hourly(dialect)
        await s.execute(insert(talk_hist).from_select(["hour", *DIM_COLUMNS, "sec", "n"],
                                                      tstmt.group_by(*tgroup)))
        n = (await s.execute(select(func.count()).select_from(rollup))).scalar_one()
        for zone in (await s.execute(select(zones.c.zone))).scalars().all():
            await daily.build(s, zone, datetime.now(UTC))
    async with db.engine.begin() as conn:
        # fresh statistics for the planner (PostgreSQL's autovacuum would get there, but later)
        for name in ("call_rollup_hourly", "call_talk_hourly", "call_rollup_dirty", "call_rollup_daily",
                     "call_talk_daily"):
            await conn.execute(text(f"ANALYZE {name}"))
    return int(n)


async def register_zones(db: Database, names: list[str]) -> list[str]:
    """Register the configured reporting zones (built by the next refresh); returns those new."""
    async with db.begin() as s:
        return await daily.register(s, names)


async def run_refresher(db: Database, *, interval: float = 30.0) -> None:
    """Background loop for the composition root: refresh dirty hours every ``interval`` seconds."""
    while True:
        try:
            n = await refresh(db)
            if n:
                log.debug("rollup: recomputed %d hours", n)
        except (UpstreamUnavailable, SQLAlchemyError):
            # keep the loop alive; reports stay exact meanwhile (dirty hours are read from the raw calls)
            log.exception("rollup refresh failed")
        await asyncio.sleep(interval)
