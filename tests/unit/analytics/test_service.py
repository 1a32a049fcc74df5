"""ReportService: one report per call, in a read session, deadlines judged by the service's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.errors import NoSuchReport, ReportNeedsWholeClient
from analytics.query import ReportQuery
from analytics.service import ReportService
from auth.scope import Scope
from config.settings import AnalyticsSettings
from core.clock import FakeClock
from db.engine import Database
from tests.unit.analytics.conftest import make_call
from tests.unit.analytics.test_sla import case

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ALL = Scope.everything()


async def test_report_uses_the_clock_and_the_database(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all([case("k1", T), make_call(T + timedelta(hours=2)), make_call(T + timedelta(hours=3), talk=60)])
    clock = FakeClock(T + timedelta(days=1))
    service = ReportService(adb, AnalyticsSettings(), clock)
    sla = ReportQuery("first-call-sla", start=T, end=T + timedelta(days=1))
    assert (await service.report(ALL, sla)).totals["pending"] == 1  # never called, deadline (2 days) not passed
    clock.advance(days=2)
    assert (await service.report(ALL, sla)).totals["late"] == 1
    rate = await service.report(ALL, ReportQuery("connect-rate", start=T, end=T + timedelta(days=1)))
    assert (rate.totals["attempts"], rate.totals["connected"]) == (2, 1)
    with pytest.raises(NoSuchReport):
        await service.report(ALL, ReportQuery("nope"))


async def test_reports_are_cut_to_the_scope(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all([make_call(T, client="c1"), make_call(T, client="c1", team="t2"), make_call(T, client="c2")])
    service = ReportService(adb, AnalyticsSettings(), FakeClock(T + timedelta(days=1)))

    async def attempts(scope: Scope, **filters: tuple[str, ...]) -> object:
        q = ReportQuery("connect-rate", start=T, end=T + timedelta(days=1), filters=dict(filters))
        return (await service.report(scope, q)).totals["attempts"]

    bank_1 = Scope(clients=frozenset({"c1"}))
    assert (await attempts(ALL), await attempts(bank_1), await attempts(bank_1, client=("c2",))) == (3, 2, 0)
    assert await attempts(Scope(clients=frozenset({"c1"}), team="t2")) == 1
    assert await attempts(Scope(clients=frozenset())) == 0  # a user of no client sees nothing
    with pytest.raises(ReportNeedsWholeClient):
        await service.report(Scope(clients=frozenset({"c1"}), team="t2"),
                             ReportQuery("first-call-sla", start=T, end=T + timedelta(days=1)))
