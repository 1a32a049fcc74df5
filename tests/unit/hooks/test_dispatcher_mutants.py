"""The dispatcher step by step: what one outcome does to its row, claiming chains, sending, recording."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select, update

from audit.service import Actor
from auth.scope import Scope
from config.settings import DatabaseSettings, HookSettings
from core.clock import FakeClock
from core.errors import UpstreamUnavailable
from db.engine import Database
from hooks.backoff import MAX_ATTEMPTS, SCHEDULE_SECONDS
from hooks.delivery import DeliveryResult, create_session
from hooks.dispatcher import MAX_BACKOFF_S, Dispatcher, Message, outage_wait
from hooks.models import Delivery, DeliveryAttempt, Subscription
from tests.support.db_support import open_database
from tests.support.receiver import HANG, OK, Receiver, fail
from tests.unit.hooks.helpers import SETTINGS, emit, running, states, wait_until, watching, wiring

pytestmark = pytest.mark.fake_events  # the dispatcher's plumbing, with hand-made events

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
_MIGRATED: list[bytes] = []  # the migrated file, kept in memory and written out for every test (a mutation run
                             # runs these tests once per mutant, in forks that outlive any temp dir)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    if not _MIGRATED:
        template = tmp_path / "migrated.db"
        async with await open_database(f"sqlite+aiosqlite:///{template}"):
            pass
        _MIGRATED.append(template.read_bytes())
    (tmp_path / "hooks.db").write_bytes(_MIGRATED[0])
    database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/hooks.db", migrate_on_start=False))
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


def numbers_of(requests: list[Any]) -> list[int]:
    return [r.json["data"]["n"] for r in requests]


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


# -- the loop as the app runs it: its own session, rounds, slots, outages, shutdown ---------------------------
#: no poll of its own (only wakes drive it) and no request timeout or lease lapse within a test
IDLE = HookSettings(allow_private_targets=True, request_timeout_s=60.0, poll_interval_s=3600.0, lease_s=600,
                    concurrency=8, batch_size=50)
DEADLINE = 20.0  # only for a broken run: a dispatcher that stopped or never looks again


async def secret_of(database: Database) -> str:
    async with database.read() as s:
        secrets = (await s.scalars(select(Subscription.secrets))).first()
    assert secrets
    return secrets[0]


async def come_round(d: Dispatcher, times: int = 2) -> None:
    """Wake the loop and wait until it has started another round (each round starts by clearing the flag)."""
    for _ in range(times):
        d.wake()

        async def cleared() -> bool:
            return not d._wake.is_set()
        await wait_until(cleared, timeout=DEADLINE)


@contextlib.asynccontextmanager
async def looping(d: Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    """``d.run()`` as a task for the block; cancelled (and awaited) at exit."""
    task = asyncio.create_task(d.run(), name=f"test-{d.name}")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def rows_by_seq(database: Database) -> list[Delivery]:
    async with database.read() as s:
        return list((await s.scalars(select(Delivery).order_by(Delivery.event_seq))).all())


def hooks_log(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hooks.dispatcher" and r.levelno >= level]


async def test_built_as_the_app_builds_it_it_opens_its_own_session_and_schedules_retries(sqlite: Database):
    # app/compose.py gives no HTTP session and no rng: the loop must open a session that honours
    # allow_private_targets, send through it, jitter retries, and close the session when it stops.
    async with Receiver(secret="", script=[fail(503)]) as rx:
        # a name, not an address: the session's resolver checks what it resolves to (DNS-rebinding guard)
        clock = await queued(sqlite, rx.url.replace("127.0.0.1", "localhost"), [("a", None), ("a", None)])
        rx.secret = await secret_of(sqlite)
        d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
        async with looping(d) as task:
            async def failed_once() -> bool:
                return (await rows_by_seq(sqlite))[0].attempts == 1
            await watching(task, wait_until(failed_once, timeout=DEADLINE))
            head = (await rows_by_seq(sqlite))[0]
            base = SCHEDULE_SECONDS[0]
            assert head.state == "pending" and head.last_status == 503
            assert T0 + timedelta(seconds=base * 0.8) <= head.next_attempt_at <= T0 + timedelta(seconds=base * 1.2)
            clock.advance(hours=1)
            d.wake()
            await watching(task, wait_until(lambda: _delivered(sqlite, 2), timeout=DEADLINE))
        assert d.session is not None and d.session.closed
    assert [r.answered for r in rx.requests] == [503, 200, 200]


async def test_a_given_session_is_the_one_used_and_is_left_open(sqlite: Database):
    # The caller's session (its pool, its tracing) carries every request, and the caller still owns it.
    sent: list[str] = []

    async def on_start(_session: Any, _ctx: Any, params: Any) -> None:
        sent.append(str(params.url))
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            async with looping(d) as task:
                await watching(task, wait_until(lambda: _delivered(sqlite, 2), timeout=DEADLINE))
            assert sent == [rx.url, rx.url] and not session.closed


async def test_a_round_takes_at_most_four_times_the_concurrency_and_keeps_its_leases(sqlite: Database):
    # Leases an instance cannot use soon are left to other instances; the ones it holds stay held while sending.
    settings = IDLE.model_copy(update={"concurrency": 2})
    async with Receiver(secret="", script=lambda _no, _req: HANG) as rx:
        clock = await queued(sqlite, rx.url, [(f"k{n}", None) for n in range(10)])
        rx.secret = await secret_of(sqlite)
        d = Dispatcher(sqlite, settings, None, clock, name="d1")
        async with looping(d) as task:
            await watching(task, rx.wait_for(2, timeout=DEADLINE))  # two in flight, six waiting for a slot
            await come_round(d)
            rows = await rows_by_seq(sqlite)
            assert [r.leased_by for r in rows] == ["d1"] * 8 + [None] * 2
            # a task dump tells this instance's tasks apart: its flusher and one task per chain, by head id
            names = {t.get_name() for t in asyncio.all_tasks()}
            assert "hooks-flush-d1" in names
            assert {f"hooks-chain-{r.id}" for r in rows[:8]} <= names
            assert not task.done()


async def test_an_instance_at_its_concurrency_claims_nothing_more(sqlite: Database):
    settings = IDLE.model_copy(update={"concurrency": 1})
    async with Receiver(secret="", script=lambda _no, _req: HANG) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        log, _svc = wiring(sqlite, clock)
        d = Dispatcher(sqlite, settings, None, clock, name="d1")
        async with looping(d) as task:
            await watching(task, rx.wait_for(1, timeout=DEADLINE))
            await emit(sqlite, log, "case.updated", case_id="b", n=1)
            await come_round(d)
            assert [r.leased_by for r in await rows_by_seq(sqlite)] == ["d1", None]  # b is free for another instance


async def test_a_finished_chain_frees_its_slot_and_a_normal_chain_logs_nothing(sqlite: Database, caplog):
    # With concurrency 1, new events keep flowing after the first chains finish (a slot never freed would
    # leave the instance full for ever: every later webhook lost until a restart).
    settings = SETTINGS.model_copy(update={"concurrency": 1})
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        log, _svc = wiring(sqlite, clock)
        d = Dispatcher(sqlite, settings, None, clock, name="d1")
        async with looping(d) as task:
            await watching(task, wait_until(lambda: _delivered(sqlite, 2), timeout=DEADLINE))
            await emit(sqlite, log, "case.updated", case_id="c", n=2)
            d.wake()
            await watching(task, wait_until(lambda: _delivered(sqlite, 3), timeout=DEADLINE))
    assert hooks_log(caplog, logging.ERROR) == []


async def test_a_restarted_instance_takes_its_own_leases_back_at_once(sqlite: Database):
    # A crash left rows leased by "d1" for ten minutes: the restarted d1 sends them now, not after the lease.
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        assert len((await Dispatcher(sqlite, IDLE, None, clock, name="d1").claim(50)).chains) == 2
        d = Dispatcher(sqlite, IDLE, None, clock, name="d1")
        async with looping(d) as task:
            await watching(task, wait_until(lambda: _delivered(sqlite, 2), timeout=DEADLINE))


class Counted(Dispatcher):
    """Counts claiming rounds (a round that reaches the database)."""

    claims = 0

    async def claim(self, limit: int) -> Any:
        self.claims += 1
        return await super().claim(limit)


async def test_an_idle_dispatcher_waits_instead_of_querying_in_a_loop(sqlite: Database):
    # One round per wake: a loop that spins takes a core and the database's attention on a 2-core machine.
    await queued(sqlite, "http://127.0.0.1:9/h", [])
    d = Counted(sqlite, IDLE, None, FakeClock(T0), name="d1")
    async with looping(d) as task:
        async def first() -> bool:
            return d.claims >= 1
        await watching(task, wait_until(first, timeout=DEADLINE))
        await come_round(d, times=3)
        await come_round(d, times=1)
        assert d.claims == 5


async def test_a_retry_coming_due_is_found_by_the_poll_without_a_wake(sqlite: Database):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        async with sqlite.begin() as s:
            await s.execute(update(Delivery).values(next_attempt_at=T0 + timedelta(seconds=60)))
        d = Counted(sqlite, SETTINGS, None, clock, name="d1")
        async with looping(d) as task:
            async def looked() -> bool:
                return d.claims >= 1
            await watching(task, wait_until(looked, timeout=DEADLINE))
            clock.advance(seconds=61)  # nobody calls wake(): only the poll interval brings the next round
            await watching(task, wait_until(lambda: _delivered(sqlite, 1), timeout=DEADLINE))


def test_the_wait_during_an_outage_doubles_from_the_poll_interval_up_to_five_seconds():
    # Not hammering a failing database, and noticing its recovery within MAX_BACKOFF_S.
    assert [outage_wait(n, 0.2) for n in range(1, 7)] == [0.4, 0.8, 1.6, 3.2, MAX_BACKOFF_S, MAX_BACKOFF_S]
    assert outage_wait(1, 0.02) == 0.04 and outage_wait(40, 0.02) == MAX_BACKOFF_S == 5.0


class Scripted(Dispatcher):
    """A database whose rounds fail as scripted: each call of ``release_own_leases``/``claim`` takes the next
    entry (an exception to raise, or None to go through); an empty script goes through."""

    def __init__(self, *args: Any, script: list[Exception | None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.script = script

    def _fault(self) -> None:
        if self.script:
            fault = self.script.pop(0)
            if fault is not None:
                raise fault

    async def release_own_leases(self) -> int:
        self._fault()
        return await super().release_own_leases()

    async def claim(self, limit: int) -> Any:
        self._fault()
        return await super().claim(limit)


async def test_an_outage_is_logged_per_instance_and_round_and_counts_again_after_a_good_round(sqlite: Database,
                                                                                            caplog):
    # The operator sees which instance lost the database and for how many rounds in a row; an unexpected
    # error comes with its traceback; after a good round an outage counts from 1 again (and the wait too).
    down = UpstreamUnavailable("database", "down")
    bug = RuntimeError("driver bug")
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        log, _svc = wiring(sqlite, clock)
        d = Scripted(sqlite, SETTINGS, None, clock, name="d1", script=[down, down, bug, None, None, down])
        async with looping(d) as task:
            await watching(task, wait_until(lambda: _delivered(sqlite, 1), timeout=DEADLINE))

            async def script_done() -> bool:
                return not d.script
            await watching(task, wait_until(script_done, timeout=DEADLINE))
            await emit(sqlite, log, "case.updated", case_id="b", n=1)  # the loop is still alive after all that
            d.wake()
            await watching(task, wait_until(lambda: _delivered(sqlite, 2), timeout=DEADLINE))
    records = hooks_log(caplog)
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "webhook dispatcher d1: database unavailable (round 1); retrying"),
        ("WARNING", "webhook dispatcher d1: database unavailable (round 2); retrying"),
        ("ERROR", "webhook dispatcher d1: claiming failed (round 3); retrying"),
        ("WARNING", "webhook dispatcher d1: database unavailable (round 1); retrying")]
    assert records[2].exc_info is not None and records[2].exc_info[1] is bug


class Crashing(Dispatcher):
    """The first chain crashes on a bug (not a delivery failure, which is an outcome) before sending."""

    bug = RuntimeError("chain bug")
    crashed = False

    async def _send_chain(self, chain: list[Message]) -> None:
        if not self.crashed:
            self.crashed = True
            raise self.bug
        await super()._send_chain(chain)


async def test_a_crashed_chain_is_logged_with_its_cause_and_its_messages_are_sent_after_all(sqlite: Database,
                                                                                          caplog):
    # Held by this instance for ever, the crashed chain's messages would wait for a restart (a lost webhook
    # on a single instance); the operator sees the crash and its cause once.
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        d = Crashing(sqlite, SETTINGS, None, clock, name="d1")
        async with looping(d) as task:
            await watching(task, wait_until(lambda: _delivered(sqlite, 3), timeout=DEADLINE))
    assert sorted(numbers_of(rx.requests)) == [0, 1, 2] and d.crashed
    (record,) = hooks_log(caplog, logging.ERROR)
    assert record.getMessage() == "webhook chain crashed"
    assert record.exc_info is not None and record.exc_info[1] is Crashing.bug


class Refusing(Dispatcher):
    """A database that refuses the first ``refuse`` flushes (``refused`` is set at the first refusal)."""

    def __init__(self, *args: Any, refuse: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refuse = refuse
        self.refused = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def _record(self, batch: list[Any]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse:
            self.refuse -= 1
            self.refused.set()
            raise UpstreamUnavailable("database", "down")
        await super()._record(batch)


async def test_results_the_database_refused_are_recorded_when_it_is_back(sqlite: Database, caplog):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        d = Refusing(sqlite, SETTINGS, None, clock, name="d1", refuse=2)
        async with looping(d) as task:
            await watching(task, wait_until(lambda: _delivered(sqlite, 1), timeout=DEADLINE))
    assert len(rx.requests) == 1  # recorded, not re-sent
    records = hooks_log(caplog, logging.ERROR)
    assert [r.getMessage() for r in records] == ["recording webhook results failed; retrying"] * 2
    assert all(r.exc_info is not None and isinstance(r.exc_info[1], UpstreamUnavailable) for r in records)


async def test_a_refused_flush_keeps_its_batch_ahead_of_results_that_arrived_meanwhile(sqlite: Database):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        async with create_session(allow_private=True) as session:
            d = Refusing(sqlite, SETTINGS, session, clock, name="d1", refuse=1)
            d.gate = asyncio.Event()
            first, second = (await d.claim(50)).chains
            await d._send_chain(first)
            flushing = asyncio.create_task(d._flush_now())
            await d._send_chain(second)  # finishes while the first flush waits on the database
            d.gate.set()
            with pytest.raises(UpstreamUnavailable):
                await flushing
            assert [o.delivery_id for o in d._results] == [first[0].id, second[0].id]
            await d._flush_now()
    assert [(r.state, r.attempts, r.leased_by) for r in await rows_by_seq(sqlite)] == [("delivered", 1, None)] * 2


async def test_stopping_records_what_was_sent_even_with_a_chain_in_flight(sqlite: Database):
    # The flusher is waiting to retry a refused batch and a chain still hangs on a slow receiver when the
    # service stops: the stop records the sent result (no duplicate later) and leaves no task running.
    def script(_no: int, req: Any) -> Any:
        return HANG if req.json["data"]["case_id"] == "slow" else OK

    async with Receiver(secret="", script=script) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("slow", None)])
        rx.secret = await secret_of(sqlite)
        d = Refusing(sqlite, IDLE, None, clock, name="d1", refuse=1)
        async with looping(d) as task:
            await watching(task, rx.wait_for(2, timeout=DEADLINE))
            await watching(task, asyncio.wait_for(d.refused.wait(), DEADLINE))
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("hooks-") and not t.done()]
    assert [(r.state, r.leased_by) for r in await rows_by_seq(sqlite)] == [("delivered", None), ("pending", "d1")]


async def test_stopping_while_the_database_is_down_says_the_results_will_be_re_sent(sqlite: Database, caplog):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        d = Refusing(sqlite, IDLE, None, clock, name="d1", refuse=1000)
        async with looping(d) as task:
            await watching(task, asyncio.wait_for(d.refused.wait(), DEADLINE))
        assert task.cancelled()  # ended by the stop, not by the refused flush
    assert hooks_log(caplog)[-1].getMessage() == (
        "webhook results could not be recorded at shutdown; they will be re-sent")
    assert await states(sqlite) == {"pending": 1}


async def test_a_receiver_that_never_answers_costs_one_attempt(sqlite: Database):
    settings = IDLE.model_copy(update={"request_timeout_s": 0.2})
    async with Receiver(secret="", script=[HANG]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)])
        rx.secret = await secret_of(sqlite)
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, settings, session, clock, name="d1")
            (chain,) = (await d.claim(50)).chains
            async with asyncio.timeout(DEADLINE):
                await d._send_chain(chain)
            await d._flush_now()
    (row,) = await rows_by_seq(sqlite)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("pending", 1, None, "timeout after 0.2s")


async def test_when_a_chain_fails_at_its_first_message_all_the_rest_are_given_back(sqlite: Database):
    async with Receiver(secret="", script=[fail(503)]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None)] * 3)
        rx.secret = await secret_of(sqlite)
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            (chain,) = (await d.claim(50)).chains
            await d._send_chain(chain)
            await d._flush_now()
    assert [(r.attempts, r.leased_by) for r in await rows_by_seq(sqlite)] == [(1, None), (0, None), (0, None)]
    clock.advance(hours=1)
    assert [numbers(c) for c in (await d.claim(50)).chains] == [[0, 1, 2]]  # this instance may take them again


async def test_a_delivery_row_removed_meanwhile_does_not_stop_the_rest_of_the_batch(sqlite: Database):
    async with Receiver(secret="", script=[]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            first, second = (await d.claim(50)).chains
            for chain in (first, second):
                await d._send_chain(chain)
            async with sqlite.begin() as s:
                await s.execute(delete(Delivery).where(Delivery.id == first[0].id))
            await d._flush_now()
    assert [(r.state, r.leased_by) for r in await rows_by_seq(sqlite)] == [("delivered", None)]  # b, not re-sent


async def test_a_410_leaves_the_history_of_delivered_messages_alone(sqlite: Database):
    async with Receiver(secret="", script=[OK, fail(410)]) as rx:
        clock = await queued(sqlite, rx.url, [("a", None), ("b", None)])
        rx.secret = await secret_of(sqlite)
        async with create_session(allow_private=True) as session:
            d = Dispatcher(sqlite, SETTINGS, session, clock, name="d1")
            first, second = (await d.claim(50)).chains
            await d._send_chain(first)
            await d._flush_now()
            clock.advance(seconds=5)
            await d._send_chain(second)
            await d._flush_now()
    rows = await rows_by_seq(sqlite)
    assert [(r.state, r.finished_at, r.last_error) for r in rows] == [
        ("delivered", T0, None), ("disabled", T0 + timedelta(seconds=5), "HTTP 410")]


async def test_event_order_wins_when_delivery_ids_disagree_with_it(sqlite: Database):
    # Two transactions interleaving on PostgreSQL can give an older event's delivery the larger id.
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None), ("b", None), ("a", None)])
    async with sqlite.begin() as s:
        oldest = (await s.scalars(select(Delivery.event_seq).order_by(Delivery.event_seq))).first()
        await s.execute(update(Delivery).where(Delivery.event_seq == oldest).values(id=Delivery.id + 1000))
    assert [numbers(c) for c in (await Dispatcher(sqlite, SETTINGS, None, clock, name="d1").claim(1)).chains] == [[0]]
    fresh = Dispatcher(sqlite, SETTINGS, None, clock, name="d2")
    clock.advance(seconds=SETTINGS.lease_s + 1)
    assert [numbers(c) for c in (await fresh.claim(50)).chains] == [[0, 2], [1]]


async def test_a_chain_in_flight_does_not_stop_other_keys_from_being_claimed(sqlite: Database):
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None)])
    log, _svc = wiring(sqlite, clock)
    d = Dispatcher(sqlite, SETTINGS, None, clock, name="d1")
    assert [numbers(c) for c in (await d.claim(50)).chains] == [[0]]
    await emit(sqlite, log, "case.updated", case_id="b", n=1)
    assert [numbers(c) for c in (await d.claim(50)).chains] == [[1]]


async def test_a_replayed_dead_message_goes_out_while_a_later_one_of_its_case_waits_for_a_retry(sqlite: Database):
    # a0 went to the dead letter, a1 failed once and waits for its retry, an admin replays a0: a0 is due and
    # is the oldest pending message of its case, so it goes now (alone), b with it.
    clock = await queued(sqlite, "http://127.0.0.1:9/h", [("a", None), ("a", None), ("b", None)])
    a0, a1, _b2 = await rows_by_seq(sqlite)
    async with sqlite.begin() as s:
        await s.execute(update(Delivery).where(Delivery.id == a0.id).values(state="dead", finished_at=T0))
        await s.execute(update(Delivery).where(Delivery.id == a1.id)
                        .values(attempts=1, next_attempt_at=T0 + timedelta(minutes=5)))
    _log, svc = wiring(sqlite, clock)
    assert await svc.replay(Scope.everything(), [a0.id]) == 1
    assert [numbers(c) for c in (await Dispatcher(sqlite, SETTINGS, None, clock, name="d1").claim(50)).chains] == [
        [0], [2]]
