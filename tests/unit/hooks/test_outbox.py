"""The outbox writer: deliveries written in the event's transaction, per matching active subscription."""

import pytest
from sqlalchemy import select

from audit.service import Actor
from auth.scope import Scope
from core.clock import FakeClock
from core.events import DomainEvent, EventLog
from hooks.errors import BadEventPattern
from hooks.models import Delivery
from hooks.outbox import Outbox, check_patterns, matches, webhook_id
from tests.unit.hooks.helpers import T0, emit, wiring

pytestmark = pytest.mark.fake_events  # the outbox's plumbing, with hand-made events

ADMIN = Actor("admin", "admin")
ALL = Scope.everything()  # the platform: every client


def test_patterns_match_by_prefix_exact_or_everything():
    assert matches(["call.*"], "call.ended") and not matches(["call.*"], "case.updated")
    assert matches(["*"], "anything.at_all") and matches(["hold.applied"], "hold.applied")
    assert not matches(["hold.applied"], "hold.released") and not matches(["call.*"], "callx.y")
    with pytest.raises(BadEventPattern):
        check_patterns(["ca*ll"])
    with pytest.raises(BadEventPattern):
        check_patterns([])


async def test_deliveries_follow_active_matching_subscriptions(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    calls, _ = await svc.create(ALL, url="http://127.0.0.1:9/a", event_types=["call.*"], description="", actor=ADMIN)
    every, _ = await svc.create(ALL, url="http://127.0.0.1:9/b", event_types=["*"], description="", actor=ADMIN)
    off, _ = await svc.create(ALL, url="http://127.0.0.1:9/c", event_types=["*"], description="", actor=ADMIN)
    await svc.update(ALL, off.id, actor=ADMIN, active=False)
    e1 = await emit(database, events, "call.ended", call_id="k1", case_id="c1")
    e2 = await emit(database, events, "case.updated", case_id="c1")
    async with database.read() as s:
        rows = (await s.scalars(select(Delivery).order_by(Delivery.id))).all()
    got = {(r.event_id, r.subscription_id) for r in rows}
    assert got == {(e1, calls.id), (e1, every.id), (e2, every.id)}
    assert all(r.ordering_key == "case:c1" and r.state == "pending" for r in rows)
    assert {r.webhook_id for r in rows if r.event_id == e1} == {webhook_id(e1, calls.id), webhook_id(e1, every.id)}
    assert webhook_id(e1, calls.id) == webhook_id(e1, calls.id) != webhook_id(e2, calls.id)


async def test_a_rolled_back_change_leaves_no_delivery(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    await svc.create(ALL, url="http://127.0.0.1:9/a", event_types=["*"], description="", actor=ADMIN)
    with pytest.raises(RuntimeError):
        async with database.begin() as s:
            await events.record(s, DomainEvent(type="case.updated", case_id="c1", payload={}))
            raise RuntimeError("the change failed")
    async with database.read() as s:
        assert (await s.scalars(select(Delivery))).all() == []


async def test_the_dispatcher_is_woken_after_a_commit_that_wrote_deliveries_only(database):
    clock = FakeClock(T0)
    _, svc = wiring(database, clock)
    woken: list[str] = []
    events = EventLog()
    Outbox(clock, wake=lambda: woken.append("woken")).install(events)
    await svc.create(ALL, url="http://127.0.0.1:9/a", event_types=["call.*"], description="", actor=ADMIN)
    await emit(database, events, "case.updated", case_id="c1")  # no subscription matches: nothing to send
    assert woken == []
    async with database.begin() as s:  # two deliveries in one transaction: one wake, after the commit
        await events.record(s, DomainEvent(type="call.ended", call_id="k1", payload={}))
        await events.record(s, DomainEvent(type="call.corrected", call_id="k1", payload={}))
        assert woken == []
    assert woken == ["woken"]
    with pytest.raises(RuntimeError):
        async with database.begin() as s:
            await events.record(s, DomainEvent(type="call.ended", call_id="k2", payload={}))
            raise RuntimeError("the change failed")
    assert woken == ["woken"]  # a rolled-back delivery wakes nobody


async def test_a_clients_subscription_receives_only_that_clients_events(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    bank_a, _ = await svc.create(Scope(clients=frozenset({"bank-a"})), url="http://127.0.0.1:9/a",
                                 event_types=["*"], description="", actor=Actor("hook-a", "admin"))
    platform, _ = await svc.create(ALL, url="http://127.0.0.1:9/p", event_types=["*"], description="",
                                   actor=ADMIN)
    assert (bank_a.client_id, platform.client_id) == ("bank-a", None)
    ids = {}
    for client in ("bank-a", "bank-b", None):
        async with database.begin() as s:
            row = await events.record(s, DomainEvent(type="case.updated", case_id=f"c-{client}", client_id=client,
                                                     payload={}))
        ids[client] = row.event_id
    async with database.read() as s:
        got = {(r.event_id, r.subscription_id) for r in (await s.scalars(select(Delivery))).all()}
    assert got == {(ids["bank-a"], bank_a.id), (ids["bank-a"], platform.id), (ids["bank-b"], platform.id),
                   (ids[None], platform.id)}
