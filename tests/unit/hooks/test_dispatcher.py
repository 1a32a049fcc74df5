"""The dispatcher against the real local receiver: order per key, retries, 410, dead letters, replay."""

import json

import pytest
from sqlalchemy import select

from audit.service import Actor
from auth.scope import Scope
from core.clock import FakeClock
from hooks.backoff import MAX_ATTEMPTS
from hooks.models import Delivery, DeliveryAttempt, Subscription
from tests.support.receiver import HANG, OK, Receiver, fail
from tests.unit.hooks.helpers import T0, emit, running, states, wait_until, wiring

pytestmark = pytest.mark.fake_events  # the dispatcher's plumbing, with hand-made events

ADMIN = Actor("admin", "admin")
ALL = Scope.everything()  # the platform: every client


def _seq(req) -> int:
    return int(req.json["data"]["n"])


async def test_in_order_per_case_while_one_case_fails_and_others_flow(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)

    def script(_no, req):
        data = req.json["data"]
        if data["case_id"] == "slow" and data["n"] == 0 and sum(
                1 for r in rx.requests if r.msg_id == req.msg_id) <= 3:
            return [fail(500), fail(503, retry_after="60"), HANG][sum(
                1 for r in rx.requests if r.msg_id == req.msg_id) - 1]
        return OK

    async with Receiver(secret="", script=script) as rx:
        sub, secret = await svc.create(ALL, url=rx.url, event_types=["*"], description="", actor=ADMIN)
        rx.secret = secret
        ids = {}
        for n in range(4):
            for case in ("slow", "fast1", "fast2"):
                ids[(case, n)] = await emit(database, events, "case.updated", case_id=case, n=n)
        async with running(database, clock):
            await wait_until(lambda: _all_delivered(database, 12), clock=clock, advance_s=120)
    groups = rx.by_case()
    for case in ("slow", "fast1", "fast2"):
        seqs = [_seq(r) for r in groups[case]]
        assert seqs == sorted(seqs), (case, seqs)
        assert sorted(set(seqs)) == [0, 1, 2, 3]
    assert all(r.verified for r in rx.requests)
    assert rx.duplicates() and set(rx.duplicates()) <= {r.msg_id for r in groups["slow"] if _seq(r) == 0}
    # fast cases were not held back by the slow one
    first_slow_ok = next(i for i, r in enumerate(rx.requests) if r.json["data"]["case_id"] == "slow"
                         and r.answered == 200)
    fast_done = [i for i, r in enumerate(rx.requests) if r.json["data"]["case_id"] != "slow"]
    assert max(fast_done) < first_slow_ok
    async with database.read() as s:
        head = (await s.scalars(select(Delivery).where(Delivery.event_id == ids[("slow", 0)]))).one()
        attempts = (await s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == head.id)
                                    .order_by(DeliveryAttempt.id))).all()
    assert [a.status for a in attempts] == [500, 503, None, 200]
    assert [a.attempt_no for a in attempts] == [1, 2, 3, 4]
    assert attempts[2].error is not None and "timeout" in attempts[2].error
    body = json.loads(rx.requests[0].body)
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "case.updated"


async def _all_delivered(database, n):
    return (await states(database)).get("delivered", 0) == n


async def test_410_disables_the_subscription_and_parks_the_rest(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    async with Receiver(secret="", script=[fail(410)]) as rx:
        sub, rx.secret = await svc.create(ALL, url=rx.url, event_types=["*"], description="", actor=ADMIN)
        for n in range(3):
            await emit(database, events, "case.updated", case_id="c1", n=n)
        async with running(database, clock):
            await wait_until(lambda: _state_is(database, {"disabled": 3}))
        assert len(rx.requests) == 1
        got = await svc.get(ALL, sub.id)
        assert not got.active and "410" in (got.disabled_reason or "")
        await emit(database, events, "case.updated", case_id="c1", n=3)  # not queued while disabled
        assert await states(database) == {"disabled": 3}
        await svc.update(ALL, sub.id, actor=ADMIN, active=True)  # re-enabling re-queues what was parked
        async with running(database, clock):
            await wait_until(lambda: _state_is(database, {"delivered": 3}))
    assert [_seq(r) for r in rx.requests] == [0, 0, 1, 2]


async def _state_is(database, expected):
    return await states(database) == expected


async def test_exhausted_retries_go_dead_and_replay_delivers_with_the_same_id(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    broken = True

    def script(_no, _req):
        return fail(500) if broken else OK

    async with Receiver(secret="", script=script) as rx:
        sub, rx.secret = await svc.create(ALL, url=rx.url, event_types=["case.*"], description="", actor=ADMIN)
        await emit(database, events, "case.updated", case_id="c9", n=0)
        async with running(database, clock):
            await wait_until(lambda: _state_is(database, {"dead": 1}), clock=clock, advance_s=3600 * 6)
            assert len(rx.requests) == MAX_ATTEMPTS
            dead = await svc.deliveries(ALL, state="dead")
            assert len(dead) == 1 and dead[0].last_status == 500
            broken = False
            assert await svc.replay(ALL, [dead[0].id]) == 1
            await wait_until(lambda: _state_is(database, {"delivered": 1}))
    assert len({r.msg_id for r in rx.requests}) == 1
    assert rx.delivered_ids() == {dead[0].webhook_id}
    assert len(await svc.attempts(ALL, dead[0].id)) == MAX_ATTEMPTS + 1


async def test_inactive_subscription_found_at_send_time_is_not_called(database):
    clock = FakeClock(T0)
    events, svc = wiring(database, clock)
    async with Receiver(secret="", script=[]) as rx:
        sub, rx.secret = await svc.create(ALL, url=rx.url, event_types=["*"], description="", actor=ADMIN)
        await emit(database, events, "case.updated", case_id="c1", n=0)
        async with database.begin() as s:  # disabled behind the service's back (e.g. by another instance)
            (await s.get(Subscription, sub.id)).active = False
        async with running(database, clock):
            await wait_until(lambda: _state_is(database, {"disabled": 1}))
    assert rx.requests == []
