"""Local buckets across DST changes, and the offset segments they rest on."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from analytics.models import epoch_hour
from analytics.query import ReportQuery
from analytics.reports import run_report
from analytics.rollup import refresh
from analytics.timezones import offset_segments
from db.engine import Database
from tests.unit.analytics.conftest import make_call

BERLIN = ZoneInfo("Europe/Berlin")


def u(d: int, h: int, m: int = 30, month: int = 3) -> datetime:
    return datetime(2025, month, d, h, m, tzinfo=UTC)


def test_offset_segments_find_the_exact_change_hour() -> None:
    segs = offset_segments(BERLIN, epoch_hour(u(1, 0)), epoch_hour(u(31, 12, month=10)))
    assert segs == ((epoch_hour(u(1, 0)), 60), (epoch_hour(u(30, 1, 0)), 120), (epoch_hour(u(26, 1, 0, 10)), 60))
    shanghai = ZoneInfo("Asia/Shanghai")  # China used DST 1986-1991, none since
    assert offset_segments(shanghai, epoch_hour(u(1, 0, month=1)) - 200_000, epoch_hour(u(1, 0))) == (
        (epoch_hour(u(1, 0, month=1)) - 200_000, 480),)
    assert len(offset_segments(shanghai, 140_000, 200_000)) > 2


async def test_day_and_hour_buckets_across_spring_forward_and_fall_back(adb: Database) -> None:
    # spring forward: 2025-03-30 02:00 CET -> 03:00 CEST (01:00 UTC)
    spring = [u(29, 22, 59), u(29, 23), u(30, 0), u(30, 1), u(30, 21), u(30, 22)]
    # fall back: 2025-10-26 03:00 CEST -> 02:00 CET (01:00 UTC); 00:30 and 01:30 UTC are both local 02:30
    fall = [u(26, 0, month=10), u(26, 1, month=10), u(26, 22, month=10), u(26, 23, month=10)]
    async with adb.begin() as s:
        s.add_all([make_call(t, end_reason="customer_busy") for t in spring + fall])
    for step in ("raw", "rollup"):
        if step == "rollup":
            await refresh(adb)
        async with adb.read() as s:
            days = await run_report(s, ReportQuery("connect-rate", ("day",), tz=BERLIN))
            hours = await run_report(s, ReportQuery("connect-rate", ("day", "hour"), tz=BERLIN))
            weeks = await run_report(s, ReportQuery("connect-rate", ("week", "weekday"), tz=BERLIN))
        assert [(r["day"], r["attempts"]) for r in days.rows] == [
            ("2025-03-29", 1), ("2025-03-30", 4), ("2025-03-31", 1), ("2025-10-26", 3), ("2025-10-27", 1)]
        assert [(r["day"], r["hour"], r["attempts"]) for r in hours.rows] == [
            ("2025-03-29", 23, 1), ("2025-03-30", 0, 1), ("2025-03-30", 1, 1), ("2025-03-30", 3, 1),
            ("2025-03-30", 23, 1), ("2025-03-31", 0, 1),
            ("2025-10-26", 2, 2), ("2025-10-26", 23, 1), ("2025-10-27", 0, 1)]
        assert [(r["week"], r["weekday"], r["attempts"]) for r in weeks.rows] == [
            ("2025-03-24", 6, 1), ("2025-03-24", 7, 4), ("2025-03-31", 1, 1),
            ("2025-10-20", 7, 3), ("2025-10-27", 1, 1)]
