"""The dispatcher step by step: what one outcome does to its row, claiming chains, sending, recording."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from audit.service import Actor
from auth.scope import Scope
from config.settings import HookSettings
from core.clock import FakeClock
from core.errors import UpstreamUnavailable
from db.engine import Database
from hooks.backoff import MAX_ATTEMPTS, SCHEDULE_SECONDS
from hooks.delivery import DeliveryResult, create_session
from hooks.dispatcher import Dispatcher, Message
from hooks.models import Delivery, DeliveryAttempt, Subscription
from tests.support.db_support import open_database
from tests.support.receiver import OK, Receiver, fail
from tests.unit.hooks.helpers import SETTINGS, emit, running, states, wait_until, wiring

ADMIN = Actor("admin", "admin")
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Added:
    """Stands in for the session: ``_apply`` only adds attempt rows to it."""

    rows: list[Any] = field(default_factory=list)

    def add(self, row: Any) -> None:
        self.rows.append(row)


def dispatcher() -> Dispatcher:
    return Dispatcher(None, HookSettings(), None, FakeClock(T0), name="d7",
                      rng=random.Random(3))


def result(outcome: str, status: int | None = None, *, error: str | None = None,
           retry_after: float | None = None) -> DeliveryResult:
    return DeliveryResult(outcome=outcome, status=status, duration_ms=12, retry_after=retry_after,
                          response_excerpt="body", error=error)


def pending(attempts: int = 0) -> Delivery:
    return Delivery(id=5, state="pending", attempts=attempts, next_attempt_at=T0)


@pytest.mark.parametrize(("outcome", "state"), [("delivered", "delivered"), ("gone", "disabled"),
                                                ("failed", "dead")])
def test_final_outcomes_finish_the_delivery(outcome, state):
    d, s = pending(), Added()
    dispatcher()._apply(s, d, result(outcome, 200), T0)
    assert (d.state, d.finished_at, d.attempts, d.last_status) == (state, T0, 1, 200)
    (attempt,) = s.rows
    assert isinstance(attempt, DeliveryAttempt)
    assert (attempt.delivery_id, attempt.attempt_no, attempt.at, attempt.outcome, attempt.status,
            attempt.duration_ms, attempt.response_excerpt, attempt.error, attempt.instance) == (
        5, 1, T0, outcome, 200, 12, "body", None, "d7")


def test_a_retryable_failure_is_scheduled_by_the_backoff():
    d, s = pending(attempts=2), Added()
    dispatcher()._apply(s, d, result("retry", 503, error="x" * 400), T0)
    assert d.state == "pending" and d.finished_at is None and d.attempts == 3
    base = SCHEDULE_SECONDS[2]
    assert T0 + timedelta(seconds=base * 0.8) <= d.next_attempt_at <= T0 + timedelta(seconds=base * 1.2)
    assert d.last_error == "x" * 300 and s.rows[0].error == "x" * 300 and s.rows[0].attempt_no == 3


def test_retry_after_is_honoured():
    d = pending()
    dispatcher()._apply(Added(), d, result("retry", 429, retry_after=3600), T0)
    assert d.next_attempt_at == T0 + timedelta(seconds=3600)


def test_the_last_retryable_failure_goes_to_the_dead_letter():
    d = pending(attempts=MAX_ATTEMPTS - 1)
    dispatcher()._apply(Added(), d, result("retry", 500), T0)
    assert (d.state, d.finished_at, d.attempts) == ("dead", T0, MAX_ATTEMPTS)


# -- claiming, sending and recording against SQLite and the local receiver ------------------------------------
@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite+aiosqlite:///{tmp_path}/hooks.db")
    async with database:
        yield database


async def queued(database: Database, url: str, events: list[tuple[str | None, str | None]]) -> FakeClock:
    """A subscription to ``url`` and one event per (case, call); returns the clock."""
    clock = FakeClock(T0)
    log, svc = wiring(database, clock)
    sub, _secret = await svc.create(Scope.everything(), url=url, event_types=["*"], description="", actor=ADMIN)
    for n, (case, call) in enumerate(events):
        await emit(database, log, "case.updated", case_id=case, call_id=call, n=n)
    return clock


def numbers(chain: list[Message]) -> list[int]:
    return [json.loads(m.body)["data"]["n"] for m in chain]


async def test_claim_leases_one_chain_per_key_in_event_order(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None), ("b", None), ("a", None), (None, None),
                                                          (None, "c1"), ("a", None), ("b", None)])
    d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    claim = await d.claim(50)
    assert [numbers(c) for c in claim.chains] == [[0, 2, 5], [1, 6], [3], [4]]
    msg = claim.chains[0][0]
    assert msg.url == "http://127.0.0.1:9/h" and msg.active and len(msg.secrets) == 1
    assert msg.lease_until == T0 + timedelta(seconds=SETTINGS.lease_s)
    assert set(json.loads(msg.body)) == {"type", "timestamp", "data"}
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery))).all()
    assert {(r.leased_until, r.leased_by) for r in rows} == {(T0 + timedelta(seconds=SETTINGS.lease_s), "d1")}
    assert (await d.claim(50)).chains == []  # all held by this instance
    other = Dispatcher(sqlite, SETTINGS, None, clock, name="d2")
    clock.advance(seconds=SETTINGS.lease_s)
    assert (await other.claim(50)).chains == []  # the lease still holds at its last instant
    clock.advance(seconds=1)
    assert (await d.claim(50)).chains == []  # a lapsed lease of its own is never re-claimed
    assert len((await other.claim(50)).chains) == 4  # but another instance takes them over
    assert await d.release_own_leases() == 0
    async with sqlite.begin() as s:  # one finished meanwhile: its lease fields are history, left alone
        await s.execute(update(Delivery).where(Delivery.event_seq == 1).values(state="delivered"))
    assert await other.release_own_leases() == 6
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery).order_by(Delivery.event_seq))).all()
    assert [(r.leased_until is None, r.leased_by) for r in rows] == [(False, "d2")] + [(True, None)] * 6


async def test_a_key_whose_oldest_message_is_held_elsewhere_waits(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None), ("a", None), ("b", None)])
    first = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    assert [numbers(c) for c in (await first.claim(1)).chains] == [[0]]  # the limit counts rows
    second = Dispatcher(sqlite, SETTINGS, None, clock, name="d2")
    assert [numbers(c) for c in (await second.claim(50)).chains] == [[2]]  # not a's second message
    async with sqlite.begin() as s:
        await s.execute(update(Delivery).values(next_attempt_at=T0 + timedelta(seconds=1)))
    assert (await Dispatcher(sqlite, SETTINGS, None, clock, name="d3").claim(50)).chains == []  # not due


async def test_a_chain_stops_at_its_first_failure_and_gives_the_rest_back(sqlite: Database):
    async with Receiver(secret="", script=[OK, fail(503)]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)] * 4)
        async with sqlite.read() as s:
            rx.secret = (await s.scalars(select(Subscription.secrets))).one()[0]
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1", rng=random.Random(1))
            (chain,) = (await d.claim(50)).chains
            await d._send_chain(chain)
            assert d.sent == 2
            await d._flush_now()
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery).order_by(Delivery.event_seq))).all()
        attempts = (await s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))).all()
    assert [(r.state, r.attempts, r.last_status, r.leased_by) for r in rows] == [
        ("delivered", 1, 200, None), ("pending", 1, 503, None), ("pending", 0, None, None),
        ("pending", 0, None, None)]
    assert rows[1].next_attempt_at > T0 and rows[2].next_attempt_at == T0
    assert [(a.attempt_no, a.status, a.instance) for a in attempts] == [(1, 200, "d1"), (1, 503, "d1")]
    assert [r.msg_id for r in rx.requests] == [rows[0].webhook_id, rows[1].webhook_id]
    assert (await d.claim(50)).chains == []  # the failed head is not due yet, so the key waits
    clock.advance(hours=1)
    assert [numbers(c) for c in (await d.claim(50)).chains] == [[1, 2, 3]]


async def test_an_inactive_subscription_parks_the_chain_unsent(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None)] * 2)
    async with sqlite.begin() as s:
        await s.execute(update(Subscription).values(active=False))
    d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    (chain,) = (await d.claim(50)).chains
    assert not chain[0].active
    await d._send_chain(chain)
    await d._flush_now()
    assert d.sent == 0 and await states(sqlite) == {"disabled": 2}
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery))).all()
    assert {(r.finished_at, r.last_error, r.leased_until) for r in rows} == {(T0, "subscription inactive", None)}


async def test_a_lease_about_to_lapse_is_given_back_unsent(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None)] * 2)
    d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    (chain,) = (await d.claim(50)).chains
    clock.advance(seconds=SETTINGS.lease_s - SETTINGS.request_timeout_s)
    await d._send_chain(chain)
    await d._flush_now()
    assert d.sent == 0 and await states(sqlite) == {"pending": 2}
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery))).all()
    assert {(r.leased_until, r.leased_by, r.attempts) for r in rows} == {(None, None, 0)}
    assert len((await d.claim(50)).chains) == 1  # flushed ids may be claimed again


async def test_410_disables_the_subscription_and_parks_its_other_messages(sqlite: Database):
    async with Receiver(secret="", script=[fail(410)]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        async with sqlite.read() as s:
            gone = (await s.scalars(select(Subscription))).one()
        rx.secret = gone.secrets[0]
        log, svc = wiring(sqlite, clock)
        await svc.create(Scope.everything(), url="http://127.0.0.1:9/other", event_types=["*"], description="",
                         actor=ADMIN)
        await emit(sqlite, log, "case.updated", case_id="c", n=9)
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            first = (await d.claim(50)).chains[0]
            await d._send_chain(first)
            clock.advance(seconds=5)
            await d._flush_now()
    async with sqlite.read() as s:
        sub = await s.get(Subscription, gone.id)
        parked = (await s.scalars(select(Delivery).where(Delivery.subscription_id == gone.id)
                                  .order_by(Delivery.event_seq))).all()
        others = (await s.scalars(select(Delivery).where(Delivery.subscription_id != gone.id))).all()
    assert sub is not None and not sub.active and sub.disabled_reason == "receiver answered 410 Gone"
    assert sub.disabled_at == sub.updated_at == T0 + timedelta(seconds=5)
    assert [(r.state, r.last_status, r.leased_until, r.leased_by) for r in parked] == [
        ("disabled", 410, None, None), ("disabled", None, None, None), ("disabled", None, None, None)]
    assert parked[1].finished_at == T0 + timedelta(seconds=5)
    assert parked[1].last_error == "receiver answered 410 Gone"
    assert [r.state for r in others] == ["pending"]


async def test_an_attempt_on_a_row_finished_elsewhere_is_logged_only(sqlite: Database):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        async with sqlite.read() as s:
            rx.secret = (await s.scalars(select(Subscription.secrets))).one()[0]
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            chains = (await d.claim(50)).chains
            async with sqlite.begin() as s:  # another instance delivered "a" after its lease lapsed
                first_id = chains[0][0].id
                await s.execute(update(Delivery).where(Delivery.id == first_id).values(state="delivered", attempts=2))
            for chain in chains:
                await d._send_chain(chain)
            await d._flush_now()
            assert d._wake.is_set()  # something was attempted: look for more at once
    async with sqlite.read() as s:
        rows = (await s.scalars(select(Delivery).order_by(Delivery.event_seq))).all()
        attempts = (await s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.delivery_id))).all()
    assert [(r.state, r.attempts) for r in rows] == [("delivered", 2), ("delivered", 1)]
    assert [(a.delivery_id, a.attempt_no, a.at, a.status, a.instance) for a in attempts] == [
        (rows[0].id, 3, T0, 200, "d1"), (rows[1].id, 1, T0, 200, "d1")]


async def test_giving_leases_back_does_not_wake_the_claimer(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None)])
    d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    (chain,) = (await d.claim(50)).chains
    clock.advance(seconds=SETTINGS.lease_s)
    await d._send_chain(chain)
    await d._flush_now()
    assert not d._wake.is_set()


async def test_the_running_loop_delivers_records_and_stops_when_cancelled(sqlite: Database):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("a", None), ("b", None)])
        async with sqlite.read() as s:
            rx.secret = (await s.scalars(select(Subscription.secrets))).one()[0]
        async with running(sqlite, clock) as d:
            await wait_until(lambda: _delivered(sqlite, 3))
        assert d.sent == 3 and len(rx.requests) == 3
        async with sqlite.read() as s:
            assert {(r.leased_by, r.attempts) for r in (await s.scalars(select(Delivery))).all()} == {(None, 1)}


async def _delivered(database: Database, n: int) -> bool:
    return (await states(database)).get("delivered", 0) == n


class Flaky(Dispatcher):
    """A dispatcher whose database refuses the first rounds (an outage, then an unexpected error)."""

    def __init__(self, *args: Any, faults: list[Exception], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults

    async def release_own_leases(self) -> int:
        if self.faults:
            raise self.faults.pop(0)
        return await super().release_own_leases()

    async def claim(self, limit: int) -> Any:
        if self.faults:
            raise self.faults.pop(0)
        return await super().claim(limit)


async def test_the_loop_outlives_a_database_outage_and_an_unexpected_error(sqlite: Database, caplog):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        async with sqlite.read() as s:
            rx.secret = (await s.scalars(select(Subscription.secrets))).one()[0]
        faults: list[Exception] = [UpstreamUnavailable("database", "down"), UpstreamUnavailable("database", "down"),
                                   RuntimeError("driver bug"), UpstreamUnavailable("database", "down")]
        async with create_session(allow_private=True) as session:
            d = Flaky(sqlite, SETTINGS, session, clock, name="d1", faults=faults)
            task = asyncio.create_task(d.run())
            try:
                await wait_until(lambda: _delivered(sqlite, 2), timeout=30)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert faults == [] and d.sent == 2 and len(rx.requests) == 2
    assert "driver bug" in caplog.text and "database unavailable" in caplog.text
