"""Daily rollup per reporting zone: the hourly rollup summed by local day, talk seconds packed per row.

Why: at ten million calls ``call_rollup_hourly`` still holds about two million rows (some five calls per
hour, agent, client, batch and number kind), and its 1-second talk histogram about as many; a report by
agent and day read in one zone needs a tenth of the measure rows once the hours are summed by local day,
and one packed array of talk seconds per row instead of a row per second. A local day is a whole number of
UTC hours only in zones whose offset is always a whole hour, so only such zones get a daily rollup
(``whole_hour_zone``); reports in other zones, or by hour of day, read the hourly rollup as before.

Exactness: a daily row is the sum of the hourly rows of its day, and the hourly rows of a day are exact
when none of its hours is marked dirty. ``analytics.rollup.refresh_once`` recomputes the days of every hour
it recomputes, for every registered zone, in the same transaction and after the hours. Readers use a day
only when none of its hours is dirty (within one snapshot) and read every other day from the hourly source.
Refreshes are serialised (one advisory lock on PostgreSQL; SQLite has one writer), so an instance never sums
a day from hours another instance is still rewriting. Zones live in ``call_rollup_zones``, shared by every
instance: each refresh keeps all of them, whichever instance registered them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import ColumnElement, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.models import (
    DIM_COLUMNS,
    MEASURE_COLUMNS,
    TALK_GRAINS,
    dirty,
    epoch_hour,
    hour_start,
    rollup,
    rollup_daily,
    talk_daily,
    talk_hist,
    zones,
)
from analytics.query import Range, ReportQuery
from analytics.timezones import local_minute, offset_min, offset_segments, time_key
from core.clock import whole_hour_zone
from db.dialect import dialect_of

# pg_advisory_xact_lock key serialising rollup refreshes, rebuilds and zone builds across instances
LOCK_KEY = 0x63677275  # "cgru"
# more dirty days than this in a report's range: read the whole range from the hourly source
MAX_SKIPPED_DAYS = 62
_BATCH = 5000


def local_day(tz: ZoneInfo, hour: int) -> int:
    """The local day (days since 1970-01-01 in ``tz``) that UTC epoch ``hour`` lies in."""
    return (hour * 60 + offset_min(tz, hour)) // 1440


def first_hour(tz: ZoneInfo, day: int) -> int:
    """The first UTC epoch hour of local ``day`` (whole-hour zones)."""
    h = day * 24 - offset_min(tz, day * 24) // 60 - 2  # a little before: DST moves it by at most an hour
    while local_day(tz, h) < day:
        h += 1
    return h


def _runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted days as inclusive runs of consecutive days."""
    out: list[tuple[int, int]] = []
    for d in sorted(set(days)):
        if out and out[-1][1] == d - 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


async def serialise(session: AsyncSession) -> None:
    """Take the rollup lock for the rest of the caller's transaction (PostgreSQL; SQLite has one writer)."""
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


# ---- maintenance ---------------------------------------------------------------------------------------


async def register(session: AsyncSession, names: Sequence[str]) -> list[str]:
    """Add zones ``names`` (validated whole-hour zones) to the registry, unbuilt; returns those added."""
    bad = [n for n in names if not whole_hour_zone(n)]
    if bad:
        raise ValueError(f"not whole-hour IANA zones: {bad}")
    have = set((await session.execute(select(zones.c.zone))).scalars())
    new = [n for n in dict.fromkeys(names) if n not in have]
    if new:
        # instances starting together may register the same zone: the first one wins, the others do nothing
        upsert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
        await session.execute(upsert(zones).on_conflict_do_nothing(index_elements=["zone"]),
                              [{"zone": n, "built_at": None} for n in new])
    return new


async def build_unbuilt(session: AsyncSession, now: datetime) -> list[str]:
    """Build every registered zone not built yet (caller holds the rollup lock); returns them."""
    names = list((await session.execute(select(zones.c.zone).where(zones.c.built_at.is_(None)))).scalars())
    for name in names:
        await build(session, name, now)
    return names


async def build(session: AsyncSession, name: str, now: datetime) -> None:
    """Replace all daily rows of zone ``name`` from the hourly rollup (caller holds the rollup lock)."""
    await session.execute(delete(rollup_daily).where(rollup_daily.c.zone == name))
    await session.execute(delete(talk_daily).where(talk_daily.c.zone == name))
    lo = (await session.execute(select(func.min(rollup.c.hour)))).scalar_one()
    hi = (await session.execute(select(func.max(rollup.c.hour)))).scalar_one()
    if lo is not None and hi is not None:
        await _fill(session, name, int(lo), int(hi) + 1)
    await session.execute(update(zones).where(zones.c.zone == name).values(built_at=now))


async def recompute_hours(session: AsyncSession, hours: Sequence[int]) -> None:
    """Recompute, in every built zone, the days containing ``hours`` (just recomputed hourly)."""
    if not hours:
        return
    names = list((await session.execute(select(zones.c.zone).where(zones.c.built_at.is_not(None)))).scalars())
    for name in names:
        tz = ZoneInfo(name)
        for d0, d1 in _runs(local_day(tz, h) for h in hours):
            for table in (rollup_daily, talk_daily):
                await session.execute(delete(table).where(table.c.zone == name, table.c.day.between(d0, d1)))
            await _fill(session, name, first_hour(tz, d0), first_hour(tz, d1 + 1))


def _day_of(hour: Any, tz: ZoneInfo, h0: int, h1: int) -> ColumnElement[int]:
    return time_key("day", local_minute(hour, offset_segments(tz, h0, max(h0, h1 - 1))))


async def _fill(session: AsyncSession, name: str, h0: int, h1: int) -> None:
    """Insert the daily rows of zone ``name`` summed from the hourly rows of hours [h0, h1)."""
    tz = ZoneInfo(name)
    day = _day_of(rollup.c.hour, tz, h0, h1)
    dims = [rollup.c[d] for d in DIM_COLUMNS]
    sums = [func.sum(rollup.c[m]) for m in MEASURE_COLUMNS]
    await session.execute(insert(rollup_daily).from_select(
        ["zone", "day", *DIM_COLUMNS, *MEASURE_COLUMNS],
        select(literal(name), day, *dims, *sums).where(rollup.c.hour >= h0, rollup.c.hour < h1)
        .group_by(day, *dims)))

    for grain in TALK_GRAINS:
        await _fill_talk(session, name, grain, h0, h1)


async def _fill_talk(session: AsyncSession, name: str, grain: int, h0: int, h1: int) -> None:
    """Insert the packed talk rows of one grain from the hourly histogram rows of hours [h0, h1)."""
    grain_dims = TALK_GRAINS[grain]
    tday = _day_of(talk_hist.c.hour, ZoneInfo(name), h0, h1)
    order = [tday, *(talk_hist.c[d] for d in grain_dims), talk_hist.c.sec]
    stmt = (select(*order, func.sum(talk_hist.c.n))
            .where(talk_hist.c.hour >= h0, talk_hist.c.hour < h1).group_by(*order).order_by(*order))
    n_keys = 1 + len(grain_dims)
    batch: list[dict[str, Any]] = []
    key: tuple[Any, ...] | None = None
    secs: list[int] = []
    ns: list[int] = []

    def flush() -> None:
        if key is not None:
            blob = np.repeat(np.asarray(secs, dtype="<u4"), np.asarray(ns, dtype=np.int64)).tobytes()
            batch.append({"zone": name, "grain": grain, "day": key[0], **dict.fromkeys(DIM_COLUMNS, ""),
                          **dict(zip(grain_dims, key[1:], strict=True)), "n": int(sum(ns)), "secs": blob})

    async for row in await session.stream(stmt):
        k = tuple(row[:n_keys])
        if k != key:
            flush()
            key, secs, ns = k, [], []
            if len(batch) >= _BATCH:
                await session.execute(insert(talk_daily), batch)
                batch = []
        secs.append(int(row[n_keys]))
        ns.append(int(row[n_keys + 1]))
    flush()
    if batch:
        await session.execute(insert(talk_daily), batch)


def talk_grain(columns: Iterable[str]) -> int | None:
    """The smallest talk grain keyed by every one of ``columns`` (dimension columns), or None."""
    need = set(columns)
    fits = [g for g, dims in TALK_GRAINS.items() if need <= set(dims)]
    return min(fits, key=lambda g: len(TALK_GRAINS[g])) if fits else None


# ---- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyPlan:
    """Which local days of ``zone`` a report reads from the daily rollup, and the ranges it reads hourly.

    Days ``d0 <= day < d1`` (None: unbounded) except ``skip`` (days with a dirty hour); ``rest``: the UTC
    ranges left over (partial days at the edges, skipped days), read from the hourly source.
    """

    zone: str
    d0: int | None
    d1: int | None
    skip: frozenset[int] = frozenset()
    rest: tuple[Range, ...] = field(default_factory=tuple)

    def where(self, c: Any) -> list[ColumnElement[bool]]:
        """SQL conditions selecting the planned days of a daily table's columns ``c``."""
        cond: list[ColumnElement[bool]] = [c.zone == self.zone]
        if self.d0 is not None:
            cond.append(c.day >= self.d0)
        if self.d1 is not None:
            cond.append(c.day < self.d1)
        if self.skip:
            cond.append(c.day.not_in(sorted(self.skip)))
        return cond


async def plan(session: AsyncSession, q: ReportQuery) -> DailyPlan | None:
    """The daily plan for ``q``, or None when the daily rollup cannot serve it (zone, hour of day, no day)."""
    name = q.tz.key
    if "hour" in q.group_by or not whole_hour_zone(name):
        return None
    built = (await session.execute(select(zones.c.built_at).where(zones.c.zone == name))).scalar_one_or_none()
    if built is None:
        return None
    tz = q.tz
    d0 = d1 = None
    if q.start is not None:
        d = local_day(tz, epoch_hour(q.start))
        d0 = d if hour_start(first_hour(tz, d)) == q.start else d + 1
    if q.end is not None:
        d1 = local_day(tz, epoch_hour(q.end))
    if d0 is not None and d1 is not None and d0 >= d1:
        return None
    hours = (await session.execute(select(dirty.c.hour))).scalars()
    skip = frozenset(d for d in {local_day(tz, int(h)) for h in hours}
                     if (d0 is None or d >= d0) and (d1 is None or d < d1))
    if len(skip) > MAX_SKIPPED_DAYS:
        return None
    rest: list[Range] = []
    if q.start is not None and d0 is not None and q.start < hour_start(first_hour(tz, d0)):
        rest.append((q.start, hour_start(first_hour(tz, d0))))
    rest += [(hour_start(first_hour(tz, a)), hour_start(first_hour(tz, b + 1))) for a, b in _runs(skip)]
    if q.end is not None and d1 is not None and hour_start(first_hour(tz, d1)) < q.end:
        rest.append((hour_start(first_hour(tz, d1)), q.end))
    return DailyPlan(name, d0, d1, skip, tuple(rest))
