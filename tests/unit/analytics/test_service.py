"""ReportService: one report per call, in a read session, deadlines judged by the service's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.errors import NoSuchReport
from analytics.query import ReportQuery
from analytics.service import ReportService
from config.settings import AnalyticsSettings
from core.clock import FakeClock
from db.engine import Database
from tests.unit.analytics.conftest import make_call
from tests.unit.analytics.test_sla import case

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def test_report_uses_the_clock_and_the_database(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all([case("k1", T), make_call(T + timedelta(hours=2)), make_call(T + timedelta(hours=3), talk=60)])
    clock = FakeClock(T + timedelta(days=1))
    service = ReportService(adb, AnalyticsSettings(), clock)
    sla = ReportQuery("first-call-sla", start=T, end=T + timedelta(days=1))
    assert (await service.report(sla)).totals["pending"] == 1  # never called, deadline (2 days) not passed
    clock.advance(days=2)
    assert (await service.report(sla)).totals["late"] == 1
    rate = await service.report(ReportQuery("connect-rate", start=T, end=T + timedelta(days=1)))
    assert (rate.totals["attempts"], rate.totals["connected"]) == (2, 1)
    with pytest.raises(NoSuchReport):
        await service.report(ReportQuery("nope"))
