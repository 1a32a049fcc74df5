"""Payments and promises through the composed service, on SQLite and PostgreSQL: a promise to pay is kept by
the payments of its case (less the client's tolerance), partial or broken (with a follow-up callback) when its
deadline passes without them, kept after all by a payment reported late (its follow-up done), payments are
stored once per bank id, and another bank never reaches a case that is not its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import create_user, issue_token
from core.clock import FakeClock
from core.models import DomainEventRow
from dialer.models import Call
from hooks.models import Delivery, Subscription
from payments.service import PaymentService
from tests.support.composed import Composed, composed

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class World:
    def __init__(self, c: Composed, clock: FakeClock) -> None:
        self.c, self.clock, self.calls = c, clock, 0

    async def req(self, method: str, path: str, user: str, body: Any = None, status: int = 200) -> Any:
        r = await self.c.client.request(method, path, json=body, headers=self.c.auth(user))
        text = await r.text()
        assert r.status == status, text
        return await r.json()

    async def case(self, external_id: str, *, client: str = "bank1", user: str = "casesys",
                   agent: str | None = "alice") -> str:
        doc = await self.req("PUT", f"/v1/clients/{client}/cases/{external_id}", user, {
            "debtor_name": "D", "amount": "1000", "currency": "CNY", "timezone": "Asia/Shanghai", "agent": agent,
            "team": "t1", "contacts": [{"number": "+8613800138001", "kind": "mobile"}]}, status=201)
        return str(doc["id"])

    async def promise(self, case_id: str, amount: str, day: str, *, currency: str | None = None) -> str:
        """A call of alice on the case, disposed promise_to_pay."""
        self.calls += 1
        call_id = f"00000000-0000-4000-8000-{self.calls:012d}"
        async with self.c.container.db.begin() as s:
            s.add(Call(id=call_id, agent_id="alice", team="t1", requested_by="alice", number="+8613800138001",
                       case_id=case_id, client_id="bank1", pbx="local", sip_user="1001", state="ended",
                       created_at=self.clock.now(), answered_at=self.clock.now(), ended_at=self.clock.now(),
                       talk_seconds=30.0, facts={}))
        body = {"outcome": "promise_to_pay", "promise_amount": amount, "promise_date": day}
        if currency:
            body["promise_currency"] = currency
        await self.req("POST", f"/v1/calls/{call_id}/disposition", "alice", body, status=201)
        return call_id

    async def pay(self, *items: dict[str, Any], client: str = "bank1", user: str = "casesys",
                  status: int = 200) -> Any:
        return await self.req("POST", f"/v1/clients/{client}/payments", user, {"payments": list(items)},
                              status=status)

    async def promises(self, user: str = "mia", **q: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in q.items())
        return list((await self.req("GET", f"/v1/promises?{query}", user))["items"])

    async def events(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        async with self.c.container.db.read() as s:
            rows = (await s.scalars(select(DomainEventRow).where(DomainEventRow.type.startswith(prefix))
                                    .order_by(DomainEventRow.id))).all()
        return [(r.type, r.payload) for r in rows]


def payment(pid: str, case: str, amount: str, at: datetime, currency: str = "CNY") -> dict[str, Any]:
    return {"payment_id": pid, "case_external_id": case, "amount": amount, "currency": currency,
            "paid_at": at.isoformat()}


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(T0)
    async with composed(tmp_path, database_url, clock=clock, compliance={"default_profile": "DEMO"}) as c:
        async with c.container.db.begin() as s:
            await create_user(s, user_id="int2", role=Role.INTEGRATION, clients=("bank2",))
            await create_user(s, user_id="agent2", role=Role.AGENT, team="t1", sip_user="2002",
                              clients=("bank2",))
            c.tokens["int2"] = await issue_token(s, user_id="int2")
            c.tokens["agent2"] = await issue_token(s, user_id="agent2")
        yield World(c, clock)


async def test_payments_keep_a_promise_once_they_cover_it(world: World) -> None:
    case_id = await world.case("C-1")
    await world.pay(payment("early", "C-1", "500", T0 - timedelta(days=1)))  # before the promise: never counts
    await world.promise(case_id, "300", "2026-12-09")
    [p] = await world.promises("alice")
    assert (p["status"], p["amount"], p["paid"], p["currency"], p["grace_days"]) == ("pending", "300.00", "0.00",
                                                                                      "CNY", 3)
    assert p["deadline"] == "2026-12-12T16:00:00+00:00"  # the end of 12-12 in Shanghai: 12-09 + 3 days of grace

    world.clock.advance(hours=1)
    first = payment("P-1", "C-1", "100", world.clock.now())
    out = await world.pay(first, payment("P-usd", "C-1", "500", world.clock.now(), currency="USD"))
    assert out["counts"] == {"created": 2}
    [p] = await world.promises("alice")
    assert (p["status"], p["paid"]) == ("pending", "100.00")  # another currency does not count

    again = await world.pay(first, {**first, "amount": "999"}, {**first, "payment_id": "bad", "amount": "-1"})
    assert [r["result"] for r in again["results"]] == ["unchanged", "conflict", "invalid"]
    assert again["results"][2]["errors"][0]["field"] == "amount"

    await world.pay(payment("P-2", "C-1", "200", world.clock.now()))
    [p] = await world.promises("alice", status="kept")
    assert (p["paid"], p["settled_at"]) == ("300.00", world.clock.now().isoformat())
    types = [t for t, _ in await world.events("p")]
    assert types == ["payment.received", "promise.made", "payment.received", "payment.received",
                     "payment.received", "promise.kept"]
    doc = await world.req("GET", f"/v1/cases/{case_id}/payments", "alice")
    ids = [x["payment_id"] for x in doc["payments"]]  # newest first (P-1, P-2 and P-usd were paid together)
    assert sorted(ids[:3]) == ["P-1", "P-2", "P-usd"] and ids[3] == "early"
    assert [x["status"] for x in doc["promises"]] == ["kept"]
    assert await world.c.container.payments.sweep() == 0  # nothing pending is due


async def test_a_passed_deadline_breaks_a_promise_and_schedules_a_follow_up(world: World) -> None:
    async with world.c.container.db.begin() as s:  # each bank's case system listens to payments and promises
        for bank in ("bank1", "bank2"):
            s.add(Subscription(id=f"sub-{bank}", client_id=bank, event_types=["payment.*", "promise.*"],
                               url=f"https://{bank}.example/hook", secrets=["c2VjcmV0c2VjcmV0c2VjcmV0"],
                               created_by="t"))
    case_id = await world.case("C-2")
    call_id = await world.promise(case_id, "300", "2026-12-08")
    await world.pay(payment("P-3", "C-2", "100", world.clock.now() + timedelta(minutes=5)))
    world.clock.set(datetime(2026, 12, 11, 15, 59, tzinfo=UTC))  # 23:59 on 12-11 in Shanghai: still in grace
    assert await world.c.container.payments.sweep() == 0
    world.clock.advance(minutes=1)
    assert await world.c.container.payments.sweep() == 1
    assert await world.c.container.payments.sweep() == 0  # settled once
    [p] = await world.promises("sam", status="partial")  # something paid, not enough: partial, not broken
    assert (p["case_id"], p["paid"], p["call_id"]) == (case_id, "100.00", call_id)
    [(_, broken)] = await world.events("promise.broken")
    assert (broken["followup_agent"], broken["status"]) == ("alice", "partial")
    callbacks = (await world.req("GET", "/v1/callbacks", "alice"))["items"]
    assert [(cb["case_id"], cb["source_call_id"], cb["due_at"]) for cb in callbacks] == [
        (case_id, call_id, world.clock.now().isoformat())]
    async with world.c.container.db.read() as s:
        deliveries = (await s.execute(select(Delivery.subscription_id, Delivery.event_type)
                                      .order_by(Delivery.event_seq))).all()
    assert [tuple(d) for d in deliveries] == [("sub-bank1", "promise.made"), ("sub-bank1", "payment.received"),
                                              ("sub-bank1", "promise.broken")]  # never to bank2's
    # a payment paid after the deadline never counts, even for a promise already missed
    await world.pay(payment("P-late", "C-2", "200", world.clock.now() + timedelta(minutes=1)))
    assert [(p["status"], p["paid"]) for p in await world.promises()] == [("partial", "100.00")]
    assert await world.events("promise.kept") == []


async def test_instances_sweeping_at_once_settle_each_promise_once(world: World) -> None:
    for i in range(6):
        await world.promise(await world.case(f"C-{10 + i}"), "50", "2026-12-08")
    world.clock.set(datetime(2026, 12, 12, tzinfo=UTC))
    c = world.c.container
    others = [PaymentService(db=c.db, events=c.events, clock=world.clock) for _ in range(3)]
    settled = await asyncio.gather(*(svc.sweep() for svc in others))
    assert sum(settled) == 6
    assert len(await world.events("promise.broken")) == 6
    assert len((await world.req("GET", "/v1/callbacks?view=team", "sam"))["items"]) == 6


async def test_another_bank_never_reaches_a_case_that_is_not_its_own(world: World) -> None:
    case_id = await world.case("C-3")
    await world.promise(case_id, "100", "2026-12-09")
    await world.case("C-3", client="bank2", user="int2", agent="agent2")  # same external id, other bank
    # bank2's case system posting to bank1: answered like an unknown client
    err = await world.pay(payment("X-1", "C-3", "100", T0), user="int2", status=404)
    assert err["error"]["code"] == "no-such-client"
    # bank2's own payment for its own C-3 lands on its case, never on bank1's
    out = await world.pay(payment("X-1", "C-3", "100", T0 + timedelta(minutes=1)), client="bank2", user="int2")
    assert out["counts"] == {"created": 1}
    await world.pay(payment("X-2", "NOPE", "100", T0), client="bank2", user="int2")
    miss = await world.pay(payment("X-2", "NOPE", "100", T0), client="bank2", user="int2")
    assert miss["results"][0]["result"] == "no-such-case"
    [p] = await world.promises("mia")
    assert (p["status"], p["paid"]) == ("pending", "0.00")
    err = await world.req("GET", f"/v1/cases/{case_id}/payments", "agent2", status=404)
    assert err["error"]["code"] == "no-such-case"
    assert await world.promises("agent2") == []
    assert await world.promises("int2") == []


async def test_weekly_repayment_statistics_in_the_user_s_zone(world: World) -> None:
    kept_case, broken_case = await world.case("C-20"), await world.case("C-21", agent=None)
    await world.promise(kept_case, "300", "2026-12-09")
    await world.promise(broken_case, "100", "2026-12-08")
    await world.pay(payment("R-1", "C-20", "300", T0 + timedelta(minutes=30)),
                    payment("R-2", "C-21", "50", datetime(2026, 12, 13, 17, 0, tzinfo=UTC)))  # 12-14 01:00 local
    world.clock.set(datetime(2026, 12, 12, tzinfo=UTC))
    assert await world.c.container.payments.sweep() == 1

    async def report(user: str, query: str) -> dict[str, Any]:
        return dict(await world.req("GET", f"/v1/reports/repayments?{query}", user))

    local = await report("mia", "group_by=week&tz=Asia/Shanghai&from=2026-12-01&to=2027-01-01")
    assert local["rows"] == [
        {"week": "2026-12-07", "payments": 1, "collected": {"CNY": "300.00"}, "promises_made": 2, "promises_kept": 1,
         "promises_broken": 1, "promises_partial": 0, "promises_pending": 0, "kept_rate": 0.5},
        {"week": "2026-12-14", "payments": 1, "collected": {"CNY": "50.00"}, "promises_made": 0, "promises_kept": 0,
         "promises_broken": 0, "promises_partial": 0, "promises_pending": 0, "kept_rate": None}]
    assert local["totals"]["collected"] == {"CNY": "350.00"} and local["totals"]["kept_rate"] == 0.5
    assert "kept_rate" in local["definitions"]
    utc = await report("mia", "group_by=week&tz=UTC")
    assert [(r["week"], r["payments"]) for r in utc["rows"]] == [("2026-12-07", 2)]  # Sunday 17:00 in UTC
    by_agent = await report("sam", "group_by=agent,client")
    assert [(r["agent"], r["client"], r["collected"], r["promises_made"]) for r in by_agent["rows"]] == [
        (None, "bank1", {"CNY": "50.00"}, 0), ("alice", "bank1", {"CNY": "300.00"}, 2)]
    r = await world.c.client.get("/v1/reports/repayments?group_by=month&tz=Asia/Shanghai&format=csv",
                                 headers=world.c.auth("mia"))
    lines = (await r.text()).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("month,payments,collected") and lines[1].startswith("2026-12,2,CNY 350.00,2,1,1,0,0")
    bad = await world.req("GET", "/v1/reports/repayments?group_by=number_kind", "mia", status=422)
    assert bad["error"]["code"] == "bad-group-by"
    # another bank's manager: an empty report, never bank1's figures
    async with world.c.container.db.begin() as s:
        await create_user(s, user_id="mgr2", role=Role.MANAGER, clients=("bank2",))
        world.c.tokens["mgr2"] = await issue_token(s, user_id="mgr2")
    other = await report("mgr2", "group_by=week&client=bank1")
    assert other["rows"] == [] and other["totals"]["payments"] == 0


async def test_a_late_reported_payment_keeps_a_missed_promise_and_closes_its_follow_up(world: World) -> None:
    async with world.c.container.db.begin() as s:
        s.add(Subscription(id="sub-bank1", client_id="bank1", event_types=["promise.*"],
                           url="https://bank1.example/hook", secrets=["c2VjcmV0c2VjcmV0c2VjcmV0"], created_by="t"))
    case_id = await world.case("C-30")
    call_id = await world.promise(case_id, "300", "2026-12-08")  # deadline 2026-12-11T16:00Z
    other_case = await world.case("C-31")
    await world.promise(other_case, "300", "2026-12-08")
    world.clock.set(datetime(2026, 12, 11, 16, 0, tzinfo=UTC))
    assert await world.c.container.payments.sweep() == 2
    assert [p["status"] for p in await world.promises("mia")] == ["broken", "broken"]  # nothing paid
    [cb] = [c for c in (await world.req("GET", "/v1/callbacks", "alice"))["items"] if c["case_id"] == case_id]
    assert cb["source_call_id"] == call_id

    # the bank reports, after the sweep, a part paid on 12-10: broken becomes partial (no new event, no second
    # follow-up), still the callback to do
    world.clock.advance(hours=5)
    await world.pay(payment("L-1", "C-30", "100", datetime(2026, 12, 10, 3, 0, tzinfo=UTC)))
    [p] = await world.promises("mia", case_id=case_id)
    assert (p["status"], p["paid"], p["settled_at"]) == ("partial", "100.00", "2026-12-11T16:00:00+00:00")
    assert len(await world.events("promise.broken")) == 2
    # then the rest, paid at the last minute of the deadline (23:59:59 on 12-11 in Shanghai): kept after all
    out = await world.pay(payment("L-2", "C-30", "200", datetime(2026, 12, 11, 15, 59, 59, tzinfo=UTC)))
    assert out["counts"] == {"created": 1}
    [p] = await world.promises("mia", case_id=case_id)
    assert (p["status"], p["paid"], p["settled_at"]) == ("kept", "300.00", world.clock.now().isoformat())
    [(_, late)] = await world.events("promise.kept_late")
    assert (late["promise_id"], late["previous_status"], late["status"], late["paid"]) == (
        p["id"], "partial", "kept", "300.00")
    assert [t for t, _ in await world.events("promise.kept")] == ["promise.kept_late"]  # never a plain kept
    # its follow-up callback is done; the other case's stays
    scheduled = (await world.req("GET", "/v1/callbacks", "alice"))["items"]
    assert [c["case_id"] for c in scheduled] == [other_case]
    [done] = (await world.req("GET", "/v1/callbacks?state=done", "alice"))["items"]
    assert (done["id"], done["done_reason"]) == (cb["id"], "promise_kept")
    # a kept promise stays kept; the same payment again changes nothing
    again = await world.pay(payment("L-2", "C-30", "200", datetime(2026, 12, 11, 15, 59, 59, tzinfo=UTC)))
    assert again["counts"] == {"unchanged": 1}
    assert len(await world.events("promise.kept_late")) == 1
    async with world.c.container.db.read() as s:
        delivered = (await s.scalars(select(Delivery.event_type).order_by(Delivery.event_seq))).all()
    assert list(delivered) == ["promise.made", "promise.made", "promise.broken", "promise.broken",
                               "promise.kept_late"]
    report = await world.req("GET", "/v1/reports/repayments?group_by=client", "mia")
    [row] = report["rows"]
    assert (row["promises_made"], row["promises_kept"], row["promises_broken"], row["promises_partial"],
            row["kept_rate"]) == (2, 1, 1, 0, 0.5)


async def test_the_client_s_tolerance_keeps_a_promise_paid_short_by_exactly_it(world: World) -> None:
    await world.req("PUT", "/v1/clients/bank1/settings", "ada", {"promise_tolerance_percent": "5"})
    at_edge, short, pending = await world.case("C-40"), await world.case("C-41"), await world.case("C-42")
    for case_id in (at_edge, short, pending):
        await world.promise(case_id, "300", "2026-12-08" if case_id != pending else "2026-12-20")
    [p] = await world.promises("mia", case_id=at_edge)
    assert (p["tolerance"], p["status"]) == ("15.00", "pending")
    world.clock.advance(hours=1)
    await world.pay(payment("T-1", "C-40", "285", world.clock.now()),  # exactly 5 % short: kept at once
                    payment("T-2", "C-41", "284.99", world.clock.now()),  # a cent more: not kept
                    payment("T-3", "C-42", "100", world.clock.now()))
    status = {p["case_id"]: (p["status"], p["paid"]) for p in await world.promises("mia")}
    assert status == {at_edge: ("kept", "285.00"), short: ("pending", "284.99"), pending: ("pending", "100.00")}
    # a later change of the tolerance does not change promises already made
    await world.req("PUT", "/v1/clients/bank1/settings", "ada", {"promise_tolerance_percent": "10"})
    world.clock.set(datetime(2026, 12, 11, 16, 0, tzinfo=UTC))
    assert await world.c.container.payments.sweep() == 1
    settled = {p["case_id"]: (p["status"], p["paid"], p["tolerance"]) for p in await world.promises("mia")}
    assert settled == {at_edge: ("kept", "285.00", "15.00"), short: ("partial", "284.99", "15.00"),
                      pending: ("pending", "100.00", "15.00")}
    [(_, broken)] = await world.events("promise.broken")
    assert (broken["status"], broken["tolerance"]) == ("partial", "15.00")
    # the repayments report: partial counts as not kept (CSV too)
    report = await world.req("GET", "/v1/reports/repayments?group_by=client", "mia")
    [row] = report["rows"]
    assert (row["promises_made"], row["promises_kept"], row["promises_partial"], row["promises_broken"],
            row["promises_pending"], row["kept_rate"]) == (3, 1, 1, 0, 1, 0.5)
    assert "promises_partial" in report["definitions"]
    r = await world.c.client.get("/v1/reports/repayments?group_by=client&format=csv", headers=world.c.auth("mia"))
    lines = (await r.text()).lstrip("\ufeff").splitlines()
    assert lines[0] == ("client,payments,collected,promises_made,promises_kept,promises_broken,promises_partial,"
                        "promises_pending,kept_rate")
    assert lines[1].startswith("bank1,3,CNY 669.99,3,1,0,1,1,0.5")
    r = await world.c.client.get("/v1/reports/repayments?group_by=client&format=xlsx", headers=world.c.auth("mia"))
    assert r.status == 200 and (await r.read())[:2] == b"PK"
