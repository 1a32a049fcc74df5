"""Reports equal a plain-Python aggregation of the generated rows, before and after rollup, after changes."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from analytics.daily import plan as daily_plan
from analytics.models import rollup_daily, talk_daily
from analytics.query import ReportQuery
from analytics.reports import run_report
from analytics.rollup import refresh, register_zones
from analytics.synth import COLUMNS, Plan, generate, load
from db.engine import Database

GROUPINGS = [("agent", "day"), ("team", "hour"), ("client", "weekday"), ("month", "number_kind"), ("week",), (),
             ("batch", "number_kind"), ("team", "month")]


def nearest_rank(values: list[float], num: int, den: int) -> float | None:
    """Nearest-rank quantile num/den of talk seconds rounded half up to whole seconds."""
    if not values:
        return None
    secs = sorted(math.floor(v + 0.5) for v in values)
    return float(secs[-(-len(secs) * num // den) - 1])


def talk_oracle(rows: list[dict[str, Any]], group_by: tuple[str, ...], tz: ZoneInfo, start: datetime | None = None,
                end: datetime | None = None) -> dict[tuple[Any, ...], tuple[float | None, float | None]]:
    """(median, p90) per group straight from the rows."""
    talks: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in rows:
        if (start and r["created_at"] < start) or (end and r["created_at"] >= end):
            continue
        if r["answered_at"] is not None and r["talk_seconds"] is not None:
            talks[_key(r, group_by, tz)].append(r["talk_seconds"])
    return {k: (nearest_rank(v, 1, 2), nearest_rank(v, 9, 10)) for k, v in talks.items()}


def _key(r: dict[str, Any], group_by: tuple[str, ...], tz: ZoneInfo) -> tuple[Any, ...]:
    local = r["created_at"].astimezone(tz)
    return tuple({
        "agent": r["agent_id"], "team": r["team"], "client": r["client_id"], "batch": r["batch_id"],
        "number_kind": r["number_kind"], "day": local.date().isoformat(), "month": local.strftime("%Y-%m"),
        "week": (local.date() - timedelta(days=local.weekday())).isoformat(), "hour": local.hour,
        "weekday": local.isoweekday()}[d] for d in group_by)


def oracle(rows: list[dict[str, Any]], group_by: tuple[str, ...], tz: ZoneInfo,
           start: datetime | None = None, end: datetime | None = None) -> dict[tuple[Any, ...], tuple[int, int, float]]:
    """(attempts, connected, talk total) per group, straight from the rows with zoneinfo."""
    out: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for r in rows:
        c = r["created_at"]
        if (start and c < start) or (end and c >= end):
            continue
        local = c.astimezone(tz)
        key = []
        for d in group_by:
            key.append({
                "agent": r["agent_id"], "team": r["team"], "client": r["client_id"], "batch": r["batch_id"],
                "number_kind": r["number_kind"], "day": local.date().isoformat(), "month": local.strftime("%Y-%m"),
                "week": (local.date() - timedelta(days=local.weekday())).isoformat(), "hour": local.hour,
                "weekday": local.isoweekday()}[d])
        acc = out[tuple(key)]
        acc[0] += 1
        if r["answered_at"] is not None:
            acc[1] += 1
            acc[2] += r["talk_seconds"] or 0.0
    return {k: (int(v[0]), int(v[1]), round(v[2], 3)) for k, v in out.items()}


async def _check(db: Database, rows: list[dict[str, Any]], tz: ZoneInfo, **kw: Any) -> None:
    for gb in GROUPINGS:
        async with db.read() as s:
            cr = await run_report(s, ReportQuery("connect-rate", gb, tz=tz, **kw))
            tt = await run_report(s, ReportQuery("talk-time", gb, tz=tz, **kw))
        got = {tuple(r[d] for d in gb): (r["attempts"], r["connected"]) for r in cr.rows}
        talk = {tuple(r[d] for d in gb): r["talk_total"] for r in tt.rows}
        want = oracle(rows, gb, tz, kw.get("start"), kw.get("end"))
        assert got == {k: v[:2] for k, v in want.items()}, gb
        pct = {tuple(r[d] for d in gb): (r["talk_median"], r["talk_p90"]) for r in tt.rows if r["connected"]}
        assert pct == talk_oracle(rows, gb, tz, kw.get("start"), kw.get("end")), gb
        if not kw:
            everything = [r["talk_seconds"] for r in rows if r["answered_at"] is not None]
            assert (tt.totals["talk_median"], tt.totals["talk_p90"]) == (
                nearest_rank(everything, 1, 2), nearest_rank(everything, 9, 10))
        assert talk.keys() == want.keys()
        for k, v in want.items():
            assert abs(talk[k] - v[2]) < 1e-6, (gb, k)


async def test_reports_equal_python_aggregation_through_rollup_and_changes(adb: Database) -> None:
    plan = Plan(calls=3000, seed=7, end=date(2025, 4, 2), tz="Europe/Berlin", per_agent_day=30)
    # ten working days spanning the 2025-03-30 DST change
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in generate(plan)]
    # Berlin and Shanghai get daily rollups (built by the load's rebuild); New York is read hourly
    assert await register_zones(adb, ["Europe/Berlin", "Asia/Shanghai"]) == ["Europe/Berlin", "Asia/Shanghai"]
    await load(adb, plan)
    async with adb.read() as s:
        assert (await s.execute(select(func.count()).select_from(rollup_daily))).scalar_one() > 0
        assert (await s.execute(select(func.count()).select_from(talk_daily))).scalar_one() > 0
    for tz in (ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")):
        await _check(adb, rows, tz)
    berlin = ZoneInfo("Europe/Berlin")
    await _check(adb, rows, berlin, start=datetime(2025, 3, 29, 7, 30, tzinfo=UTC),
                 end=datetime(2025, 3, 31, 16, 45, tzinfo=UTC))
    # bounds given in another offset, aligned to Berlin midnights (whole days from the daily rollup) or not
    shanghai = ZoneInfo("Asia/Shanghai")
    await _check(adb, rows, berlin, start=datetime(2025, 3, 25, tzinfo=berlin).astimezone(shanghai),
                 end=datetime(2025, 3, 31, tzinfo=berlin).astimezone(shanghai))
    await _check(adb, rows, ZoneInfo("America/New_York"), start=datetime(2025, 3, 28, 9, 15, tzinfo=shanghai),
                 end=datetime(2025, 4, 1, 18, 5, tzinfo=shanghai))

    # change a random sample of calls (connect some, disconnect others, delete a few) and compare again
    rng = random.Random(3)
    by_id = {r["id"]: r for r in rows}
    sample = rng.sample(rows, 200)
    async with adb.begin() as s:
        for r in sample[:100]:
            r["answered_at"] = r["created_at"] + timedelta(seconds=12)
            r["talk_seconds"] = 42.5
            await s.execute(text("UPDATE calls SET answered_at = :a, talk_seconds = 42.5, end_reason = 'completed' "
                                 "WHERE id = :i"),
                            {"a": _bind(adb, r["answered_at"]), "i": r["id"]})
        for r in sample[100:180]:
            r["answered_at"] = None
            r["talk_seconds"] = None
            await s.execute(text("UPDATE calls SET answered_at = NULL, talk_seconds = NULL, "
                                 "end_reason = 'customer_busy' WHERE id = :i"), {"i": r["id"]})
        for r in sample[180:]:
            del by_id[r["id"]]
            await s.execute(text("DELETE FROM calls WHERE id = :i"), {"i": r["id"]})
    rows = list(by_id.values())
    async with adb.read() as s:
        berlin_plan = await daily_plan(s, ReportQuery("connect-rate", ("day",), tz=berlin))
    assert berlin_plan is not None and berlin_plan.skip and berlin_plan.rest  # changed days are read hourly
    await _check(adb, rows, berlin)  # dirty hours read raw
    assert await refresh(adb) > 0
    await _check(adb, rows, berlin)  # all from the rollup
    ny = ZoneInfo("America/New_York")
    await _check(adb, rows, ny)
    # a zone registered later is built by the next refresh, from then on read by days
    await register_zones(adb, ["America/New_York"])
    async with adb.read() as s:
        assert await daily_plan(s, ReportQuery("talk-time", ("day",), tz=ny)) is None  # not built yet
    await refresh(adb)
    async with adb.read() as s:
        assert await daily_plan(s, ReportQuery("talk-time", ("day",), tz=ny)) is not None
    await _check(adb, rows, ny)


def _bind(db: Database, at: datetime) -> Any:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if db.is_sqlite else at
