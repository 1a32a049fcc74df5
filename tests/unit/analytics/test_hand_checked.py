"""A small dataset whose every figure was worked out by hand, via the raw path and via the rollup."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from analytics.models import dirty
from analytics.query import ReportQuery
from analytics.reports import run_report
from analytics.rollup import rebuild, refresh
from cases.models import Disposition
from compliance.models import ComplianceDecision
from db.engine import Database
from tests.unit.analytics.conftest import make_call

T = datetime(2025, 3, 3, 9, 15, tzinfo=UTC)  # a Monday


def at(h: int, m: int = 15) -> datetime:
    return T.replace(hour=h, minute=m)


def dataset() -> list:
    a2 = {"agent": "a2", "team": "t2", "client": "c2", "batch": "b2", "kind": "landline"}
    return [
        make_call(at(9), talk=30, ring=5, outcome="promise_to_pay"),
        make_call(at(9, 40), talk=60, ring=10, outcome="refuses"),
        make_call(at(10), talk=90, ring=15, outcome="wrong_number", **a2),
        make_call(at(10), end_reason="customer_busy"),
        make_call(at(11), end_reason="customer_no_answer", outcome="no_answer"),
        make_call(at(11), end_reason="customer_unreachable", cause=1, **a2),
        make_call(at(12), end_reason="agent_no_answer", **a2),
        make_call(at(12), end_reason="agent_rejected", **a2),
        make_call(at(13), end_reason="failed"),
        make_call(at(13), end_reason=None, **a2),  # still ringing
    ]


EXPECTED_TOTAL = {
    "attempts": 10, "connected": 3, "connect_rate": 0.3, "agent_not_answered": 2, "busy": 1, "no_answer": 1,
    "unreachable": 1, "failed": 1, "cancelled": 0, "invalid_number": 1, "in_progress": 1,
    "right_party_contacts": 2, "right_party_rate": 0.666667, "time_to_answer_mean": 10.0,
}


async def _report(db: Database, name: str, group_by: tuple[str, ...] = (), **kw) -> Any:
    async with db.read() as s:
        return await run_report(s, ReportQuery(name, group_by, **kw))


@pytest.mark.parametrize("path", ["raw", "rollup"])
async def test_hand_checked_figures(adb: Database, path: str) -> None:
    async with adb.begin() as s:
        s.add_all(dataset())
    async with adb.read() as s:
        assert (await s.execute(select(func.count()).select_from(dirty))).scalar_one() == 5  # hours 9..13
    if path == "rollup":
        assert await refresh(adb) == 5
        async with adb.read() as s:
            assert (await s.execute(select(func.count()).select_from(dirty))).scalar_one() == 0

    cr = await _report(adb, "connect-rate")
    assert cr.totals == {**EXPECTED_TOTAL, "blocked": 0}
    by_agent = await _report(adb, "connect-rate", ("agent",))
    assert [(r["agent"], r["attempts"], r["connected"], r["connect_rate"]) for r in by_agent.rows] == [
        ("a1", 5, 2, 0.4), ("a2", 5, 1, 0.2)]
    by_hour = await _report(adb, "connect-rate", ("hour",), tz=ZoneInfo("Asia/Shanghai"))  # UTC+8
    assert [(r["hour"], r["attempts"], r["connected"]) for r in by_hour.rows] == [
        (17, 2, 2), (18, 2, 1), (19, 2, 0), (20, 2, 0), (21, 2, 0)]

    tt = await _report(adb, "talk-time")
    # 30, 60, 90 s: total 180, mean 60; median = ceil(3/2) = 2nd value 60; p90 = ceil(2.7) = 3rd value 90
    assert tt.totals == {"attempts": 10, "connected": 3, "talk_total": 180.0, "talk_mean": 60.0,
                         "talk_median": 60.0, "talk_p90": 90.0, "time_to_answer_mean": 10.0}
    by_agent_tt = await _report(adb, "talk-time", ("agent", "month"))
    assert [(r["agent"], r["month"], r["talk_median"], r["talk_p90"]) for r in by_agent_tt.rows] == [
        ("a1", "2025-03", 30.0, 60.0), ("a2", "2025-03", 90.0, 90.0)]

    oc = await _report(adb, "outcomes", ("client",))
    c1 = oc.rows[0]
    assert c1["client"] == "c1" and c1["outcome_promise_to_pay"] == 1 and c1["outcome_refuses"] == 1
    assert c1["outcome_no_answer"] == 1 and c1["outcome_none"] == 2 and c1["promise_rate"] == 0.5
    assert oc.totals["right_party_contacts"] == 2 and oc.totals["promises"] == 1
    assert oc.totals["outcome_wrong_number"] == 1 and oc.totals["outcome_none"] == 6
    assert oc.totals["promise_amount"] == {} and c1["promise_amount"] == {}  # no dispositions recorded

    # filters and a partial-hour range (09:30 .. 12:30 UTC): calls at 09:40, 10:00 x2, 11:00 x2, 12:15 x2
    part = await _report(adb, "connect-rate", ("team",), start=at(9, 30), end=at(12, 30))
    assert [(r["team"], r["attempts"]) for r in part.rows] == [("t1", 3), ("t2", 4)]
    only = await _report(adb, "connect-rate", (), filters={"team": ("t2",), "number_kind": ("landline",)})
    assert only.totals["attempts"] == 5 and only.totals["connected"] == 1


@pytest.mark.parametrize("path", ["raw", "rollup"])
async def test_inbound_calls_are_a_direction_and_leave_the_outbound_figures_unchanged(adb: Database, path: str) -> None:
    inbound = [make_call(at(9, 50), talk=40, ring=3, direction="inbound"),
               make_call(at(10, 5), end_reason="agent_unavailable", direction="inbound"),
               make_call(at(21, 30), talk=20, ring=2, direction="inbound")]  # answering at 21:30 is allowed
    async with adb.begin() as s:
        s.add_all([*dataset(), *inbound])
    if path == "rollup":
        assert await refresh(adb) == 6
    outbound = await _report(adb, "connect-rate", (), filters={"direction": ("outbound",)})
    assert outbound.totals == {**EXPECTED_TOTAL, "blocked": None}  # the decision log knows no direction
    by_direction = await _report(adb, "connect-rate", ("direction",))
    assert [(r["direction"], r["attempts"], r["connected"]) for r in by_direction.rows] == [
        ("inbound", 3, 2), ("outbound", 10, 3)]
    tt = await _report(adb, "talk-time", ("direction",), filters={"direction": ("inbound",)})
    assert [(r["direction"], r["talk_total"], r["talk_median"]) for r in tt.rows] == [("inbound", 60.0, 20.0)]


async def test_changes_after_rollup_are_seen_at_once_and_after_refresh(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all(dataset())
    await rebuild(adb)
    async with adb.begin() as s:
        await s.execute(text("UPDATE calls SET outcome = 'promise_to_pay' WHERE outcome = 'refuses'"))
    before = await _report(adb, "outcomes")
    assert before.totals["promises"] == 2 and before.totals["outcome_refuses"] == 0
    assert await refresh(adb) == 1
    after = await _report(adb, "outcomes")
    assert after.totals == before.totals


async def test_blocked_attempts_are_counted_apart(adb: Database) -> None:
    async with adb.begin() as s:
        s.add_all(dataset())
    rows = [("d1", at(9), "a1", True, "dial"), ("d2", at(9, 20), "a1", False, "dial"),
            ("d3", at(10), "a1", False, "manual"), ("d4", at(11), "a3", False, "dial"),
            ("d5", at(11), "a3", False, "check")]  # a check ("would it be allowed?") is no attempt
    async with adb.begin() as s:
        for i, when, agent, allowed, kind in rows:
            s.add(ComplianceDecision(
                id=i, at=when, kind=kind, actor=agent, actor_role="agent", agent_id=agent, client_id="c1",
                number="+8613800000001", allowed=allowed, code=None if allowed else "frequency-cap", rule_ids=[],
                zones=[], policy_id="CN", message="", details={}))
    r = await _report(adb, "connect-rate", ("agent",))
    assert [(x["agent"], x["attempts"], x["blocked"]) for x in r.rows] == [("a1", 5, 2), ("a2", 5, 0), ("a3", 0, 1)]
    assert r.totals["blocked"] == 3 and r.totals["attempts"] == 10
    # the decision log has no team: blocked is unknown rather than wrong
    assert (await _report(adb, "connect-rate", ("team",))).totals["blocked"] is None


async def test_promise_amounts_per_currency_and_group(adb: Database) -> None:
    calls = dataset()
    async with adb.begin() as s:
        s.add_all(calls)
    promised = [(calls[0], "promise_to_pay", "120.50", "CNY"), (calls[1], "promise_to_pay", "79.50", "CNY"),
                (calls[2], "promise_to_pay", "30.00", "USD"), (calls[3], "refuses", None, None)]
    async with adb.begin() as s:
        for call, outcome, amount, cur in promised:
            s.add(Disposition(call_id=call.id, agent_id=call.agent_id, recorded_by=call.agent_id, outcome=outcome,
                              promise_amount=Decimal(amount) if amount else None, promise_currency=cur))
    for step in ("raw", "rollup"):
        if step == "rollup":
            await refresh(adb)
        oc = await _report(adb, "outcomes", ("agent",))
        assert [(r["agent"], r["promise_amount"]) for r in oc.rows] == [
            ("a1", {"CNY": "200.00"}), ("a2", {"USD": "30.00"})]
        assert oc.totals["promise_amount"] == {"CNY": "200.00", "USD": "30.00"}
        # the range and filters apply through the call: 09:30.. excludes the 09:15 promise
        part = await _report(adb, "outcomes", ("hour",), start=at(9, 30), filters={"client": ("c1",)})
        assert part.totals["promise_amount"] == {"CNY": "79.50"}
        assert [(r["hour"], r["promise_amount"]) for r in part.rows][:1] == [(9, {"CNY": "79.50"})]
