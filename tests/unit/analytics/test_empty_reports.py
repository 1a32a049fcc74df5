"""Every call report answers for a period with no calls (and for one whose calls have no talk): zeros or
nulls, never an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.query import REPORTS, ReportQuery
from analytics.service import ReportService
from auth.scope import Scope
from config.settings import AnalyticsSettings
from core.clock import FakeClock
from db.engine import Database
from tests.unit.analytics.conftest import make_call

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CALL_REPORTS = ("connect-rate", "talk-time", "outcomes")


@pytest.mark.parametrize("name", CALL_REPORTS)
@pytest.mark.parametrize("group_by", [(), ("day",), ("agent",)])
async def test_a_period_without_calls(adb: Database, name: str, group_by: tuple[str, ...]) -> None:
    async with adb.begin() as s:
        s.add(make_call(T - timedelta(days=5), talk=30))  # outside the period
    service = ReportService(adb, AnalyticsSettings(), FakeClock(T + timedelta(days=1)))
    q = ReportQuery(name, group_by=group_by, start=T, end=T + timedelta(days=1), tz=ZoneInfo("Asia/Shanghai"))
    report = await service.report(Scope.everything(), q)
    assert report.rows in ([], [report.totals])  # ungrouped: at most the one row of totals
    assert report.totals["attempts"] == 0
    if name == "talk-time":
        assert report.totals["talk_total"] in (0, None) and report.totals["talk_median"] is None


async def test_calls_without_talk(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all([make_call(T, end_reason="customer_busy"), make_call(T, end_reason="customer_no_answer")])
    service = ReportService(adb, AnalyticsSettings(), FakeClock(T + timedelta(days=1)))
    for group_by in ((), ("agent",), ("day",)):
        report = await service.report(Scope.everything(), ReportQuery(
            "talk-time", group_by=group_by, start=T, end=T + timedelta(days=1)))
        assert report.totals["attempts"] == 2 and report.totals["talk_total"] == 0
        assert report.totals["talk_mean"] is None and report.totals["talk_median"] is None


def test_the_call_reports_are_these() -> None:
    assert set(CALL_REPORTS) <= set(REPORTS)
