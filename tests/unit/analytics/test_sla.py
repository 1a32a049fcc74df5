"""First-call SLA over real ``cases`` rows and their calls: within, late, never called, pending, grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from analytics.query import ReportQuery
from analytics.reports import run_report
from cases.models import Case
from db.engine import Database
from tests.unit.analytics.conftest import make_call

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
NOW = T + timedelta(days=10)


def case(cid: str, received: datetime | None, *, client: str = "c1", batch: str = "b1",
         created: datetime | None = None) -> Case:
    return Case(id=cid, client_id=client, batch_id=batch, external_id=cid, debtor_name="D", amount=Decimal("100"),
                currency="CNY", received_at=received, fingerprint=cid, created_at=created or received or T)


async def test_first_call_sla_with_cases_and_calls(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all([
            case("k1", T),  # first call after 1 day: within
            case("k2", T),  # first call after 3 days: late (a later call does not matter)
            case("k3", T + timedelta(hours=1), client="c2"),  # never called, deadline passed: late
            case("k4", NOW - timedelta(hours=5), client="c2", batch="b2"),  # not called yet, not due: pending
            case("k5", None, client="c2", created=T + timedelta(days=1)),  # no received_at: created_at counts
            case("k6", T - timedelta(days=30)),  # received before the range: not counted
        ])
        s.add_all([
            make_call(T + timedelta(days=1), case_id="k1"), make_call(T + timedelta(days=5), case_id="k1"),
            make_call(T + timedelta(days=3), case_id="k2"), make_call(T + timedelta(days=4), case_id="k2"),
            make_call(T + timedelta(days=2, hours=23), case_id="k5"),
            make_call(T - timedelta(days=1), case_id="k6"),
        ])
    q = ReportQuery("first-call-sla", ("client",), start=T, end=NOW, tz=ZoneInfo("Asia/Shanghai"))
    async with adb.read() as s:
        r = await run_report(s, q, now=NOW)
    assert r.rows == [
        {"client": "c1", "cases": 2, "first_call_within_sla": 1, "late": 1, "pending": 0,
         "first_call_sla_rate": 0.5},
        {"client": "c2", "cases": 3, "first_call_within_sla": 1, "late": 1, "pending": 1,
         "first_call_sla_rate": 0.5},
    ]
    assert r.totals == {"cases": 5, "first_call_within_sla": 2, "late": 2, "pending": 1,
                        "first_call_sla_rate": 0.5}
    assert r.late_cases == [
        {"case_id": "k2", "client": "c1", "batch": "b1", "received_at": T.isoformat(),
         "first_call_at": (T + timedelta(days=3)).isoformat(), "hours_to_first_call": 72.0, "called": True},
        {"case_id": "k3", "client": "c2", "batch": "b1", "received_at": (T + timedelta(hours=1)).isoformat(),
         "first_call_at": None, "hours_to_first_call": 239.0, "called": False},
    ]
    async with adb.read() as s:
        by_day = await run_report(s, ReportQuery("first-call-sla", ("day",), start=T, end=NOW,
                                                 filters={"batch": ("b1",)}, sla_days=3,
                                                 tz=ZoneInfo("Asia/Shanghai")), now=NOW)
    # 3-day deadline: k2 (72 h) is now within; k1, k2, k3 received on local 03-03, k5 on 03-04
    assert [(x["day"], x["cases"], x["first_call_within_sla"], x["late"]) for x in by_day.rows] == [
        ("2025-03-03", 3, 2, 1), ("2025-03-04", 1, 1, 0)]
