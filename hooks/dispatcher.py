"""The webhook dispatcher: claims due outbox rows with a lease, delivers them in order per
(subscription, ordering key), concurrently across keys, and records every attempt.

Claiming (one short transaction): candidates are pending, due and unleased rows in event order
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises claimers). For every
(subscription, key) only the run of candidates that starts at the oldest pending row of that key is
taken: a later message is never sent while an earlier one is pending. Each run becomes a *chain* sent
sequentially; a chain stops at its first failure and gives the rest of its leases back.

Results are written by one flusher in batches (one transaction for many attempts), so throughput does not
pay one commit per message. A crash between a send and its flush re-sends the message after the lease
expires (or at once when the same instance name restarts): at-least-once, same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import HookSettings
from core.clock import Clock
from core.errors import UpstreamUnavailable
from core.models import DomainEventRow
from core.tasks import wait_set
from db.engine import Database
from hooks.backoff import next_attempt_at
from hooks.delivery import DeliveryResult, create_session, deliver
from hooks.models import Delivery, DeliveryAttempt, Subscription
from hooks.outbox import event_body

log = logging.getLogger(__name__)
#: the longest wait between claiming rounds while the database keeps failing
MAX_BACKOFF_S = 5.0


@dataclass(slots=True)
class Message:
    """One claimed delivery, ready to send."""

    id: int
    webhook_id: str
    url: str
    secrets: list[str]
    active: bool
    body: bytes
    lease_until: datetime


@dataclass(slots=True)
class Outcome:
    """What happened to one claimed delivery, waiting for the flusher."""

    delivery_id: int
    result: DeliveryResult | None  # None: not attempted, just give the lease back
    at: datetime
    subscription_inactive: bool = False


@dataclass(slots=True)
class _Claim:
    chains: list[list[Message]] = field(default_factory=list)


class Dispatcher:
    """Delivers the outbox; ``run()`` is the long-lived loop (spawn it as a tracked task)."""

    def __init__(self, db: Database, settings: HookSettings, session: aiohttp.ClientSession | None, clock: Clock, *,
                 name: str = "dispatcher", rng: random.Random | None = None) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self._given_session = session  # None: run() opens (and closes) its own delivery session
        self.session: aiohttp.ClientSession | None = session
        self.name = name
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._wake = asyncio.Event()
        self._results: list[Outcome] = []
        self._results_ready = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._claimed: set[int] = set()  # ids this instance holds, never re-claimed even if a lease lapses
        self._sem = asyncio.Semaphore(settings.concurrency)
        self.sent = 0

    def wake(self) -> None:
        """Something new may be due (an event committed, a replay): look now instead of at the next poll."""
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Claim and send until cancelled; on cancellation, record what was already sent."""
        if self._given_session is not None:
            await self._run()
            return
        async with create_session(allow_private=self.settings.allow_private_targets,
                                  limit=self.settings.concurrency) as session:
            self.session = session
            await self._run()

    async def _run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop(), name=f"hooks-flush-{self.name}")
        failures = 0  # consecutive rounds the database refused: the wait grows to MAX_BACKOFF_S
        leases_back = False
        try:
            while True:
                self._wake.clear()
                started = 0
                try:
                    if not leases_back:
                        await self.release_own_leases()
                        leases_back = True
                    if len(self._inflight) < self.settings.concurrency:
                        started = await self._claim_and_start()
                    failures = 0
                except UpstreamUnavailable:
                    failures += 1
                    log.warning("webhook dispatcher %s: database unavailable (round %d); retrying", self.name,
                                failures)
                except Exception:  # noqa: BLE001 - the loop outlives any one bad round; a dead loop delivers nothing
                    failures += 1
                    log.exception("webhook dispatcher %s: claiming failed (round %d); retrying", self.name, failures)
                if failures:
                    await asyncio.sleep(outage_wait(failures, self.settings.poll_interval_s))
                elif started == 0 or len(self._inflight) >= self.settings.concurrency:
                    await wait_set(self._wake, self.settings.poll_interval_s)
        finally:
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            try:
                await self._flush_now()
            except UpstreamUnavailable:
                # Results not recorded now are re-sent after the lease expires, with the same webhook-id.
                log.warning("webhook results could not be recorded at shutdown; they will be re-sent")

    async def _claim_and_start(self) -> int:
        limit = min(self.settings.batch_size, self.settings.concurrency * 4)
        claim = await self.claim(limit)
        for chain in claim.chains:
            task = asyncio.create_task(self._send_chain(chain), name=f"hooks-chain-{chain[0].id}")
            self._inflight.add(task)
            task.add_done_callback(functools.partial(self._chain_done, chain))
        return len(claim.chains)

    def _chain_done(self, chain: list[Message], task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook chain crashed", exc_info=task.exception())
            # Its leases go back now: this instance never re-claims ids it holds, so a single instance would
            # otherwise not send these messages again until it restarts. At least once, same webhook-id.
            self._push([Outcome(m.id, None, self.clock.now()) for m in chain])
        self._wake.set()

    # -- claiming ------------------------------------------------------------------------------------------
    async def claim(self, limit: int) -> _Claim:
        """Lease the next due chains (at most ``limit`` rows) and load what sending them needs."""
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        async with self.db.begin() as s:
            q = (select(Delivery.id, Delivery.subscription_id, Delivery.ordering_key, Delivery.event_seq)
                 .where(Delivery.state == "pending", Delivery.next_attempt_at <= now,
                        (Delivery.leased_until.is_(None)) | (Delivery.leased_until < now))
                 .order_by(Delivery.event_seq, Delivery.id).limit(limit))
            if self._claimed:
                q = q.where(Delivery.id.not_in(self._claimed))
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            candidates = (await s.execute(q)).all()
            if not candidates:
                return _Claim()
            chains = await self._heads(s, [(c.id, c.subscription_id, c.ordering_key, c.event_seq)
                                           for c in candidates])
            ids = [i for chain in chains for i in chain]
            if not ids:
                return _Claim()
            await s.execute(update(Delivery).where(Delivery.id.in_(ids))
                            .values(leased_until=lease_until, leased_by=self.name))
            rows = (await s.execute(
                select(Delivery.id, Delivery.webhook_id, Delivery.event_seq, Subscription.url,
                       Subscription.secrets, Subscription.active)
                .join(Subscription, Subscription.id == Delivery.subscription_id)
                .where(Delivery.id.in_(ids)))).all()
            seqs = [r.event_seq for r in rows]
            events = {e.id: e for e in (await s.scalars(select(DomainEventRow)
                                                        .where(DomainEventRow.id.in_(seqs)))).all()}
        self._claimed.update(ids)
        by_id = {r.id: Message(r.id, r.webhook_id, r.url, list(r.secrets), bool(r.active),
                               event_body(events[r.event_seq]), lease_until) for r in rows}
        return _Claim([[by_id[i] for i in chain] for chain in chains])

    async def _heads(self, s: AsyncSession, cands: list[tuple[int, str, str | None, int]]) -> list[list[int]]:
        """Group candidates into chains that start at the oldest pending row of their key."""
        keyed: dict[tuple[str, str], list[tuple[int, int]]] = {}
        chains: list[tuple[int, list[int]]] = []
        for did, sub, key, seq in cands:
            if key is None:
                chains.append((seq, [did]))
            else:
                keyed.setdefault((sub, key), []).append((seq, did))
        if keyed:
            max_seq = max(seq for _, _, _, seq in cands)
            pending: dict[tuple[str, str], list[int]] = {}
            keys = sorted({k for _, k in keyed})
            for i in range(0, len(keys), 500):
                rows = await s.execute(
                    select(Delivery.subscription_id, Delivery.ordering_key, Delivery.id)
                    .where(Delivery.state == "pending", Delivery.ordering_key.in_(keys[i:i + 500]),
                           Delivery.event_seq <= max_seq)
                    .order_by(Delivery.event_seq, Delivery.id))
                for sub, key, did in rows:
                    if key is not None:
                        pending.setdefault((sub, key), []).append(did)
            for k, mine in keyed.items():
                mine.sort()
                run: list[int] = []
                for (_seq, did), expected in zip(mine, pending.get(k, []), strict=False):
                    if did != expected:
                        break
                    run.append(did)
                if run:
                    chains.append((mine[0][0], run))
        chains.sort(key=lambda c: c[0])
        return [ids for _, ids in chains]

    async def release_own_leases(self) -> int:
        """Give back leases this instance name still holds (after a restart); returns how many."""
        async with self.db.begin() as s:
            res = await s.execute(update(Delivery).where(Delivery.leased_by == self.name,
                                                         Delivery.state == "pending")
                                  .values(leased_until=None, leased_by=None))
        return int(res.rowcount or 0)  # type: ignore[attr-defined]

    # -- sending -------------------------------------------------------------------------------------------
    async def _send_chain(self, chain: list[Message]) -> None:
        for index, msg in enumerate(chain):
            now = self.clock.now()
            if not msg.active:
                self._push([Outcome(m.id, None, now, subscription_inactive=True) for m in chain[index:]])
                return
            if now + timedelta(seconds=self.settings.request_timeout_s) >= msg.lease_until:
                self._push([Outcome(m.id, None, now) for m in chain[index:]])  # lease nearly gone
                return
            assert self.session is not None
            async with self._sem:
                result = await deliver(self.session, msg.url, msg_id=msg.webhook_id, timestamp=int(time.time()),
                                       body=msg.body, secrets=msg.secrets,
                                       timeout=self.settings.request_timeout_s,
                                       allow_private=self.settings.allow_private_targets)
            self.sent += 1
            self._push([Outcome(msg.id, result, self.clock.now())])
            if result.outcome != "delivered":
                self._push([Outcome(m.id, None, now) for m in chain[index + 1:]])
                return

    def _push(self, outcomes: list[Outcome]) -> None:
        if outcomes:
            self._results.extend(outcomes)
            self._results_ready.set()

    # -- recording -----------------------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            try:
                await self._flush_now()
            except Exception:  # noqa: BLE001 - the results stay queued; the next round retries
                log.exception("recording webhook results failed; retrying")
                await asyncio.sleep(1.0)
                self._results_ready.set()

    async def _flush_now(self) -> None:
        batch, self._results = self._results, []
        if not batch:
            return
        try:
            await self._record(batch)
        except BaseException:
            self._results[:0] = batch
            raise
        self._claimed.difference_update(o.delivery_id for o in batch)
        if any(o.result is not None for o in batch):
            self._wake.set()

    async def _record(self, batch: list[Outcome]) -> None:
        disabled: set[str] = set()
        async with self.db.begin() as s:
            ids = [o.delivery_id for o in batch]
            rows = {d.id: d for d in (await s.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all()}
            for o in batch:
                d = rows.get(o.delivery_id)
                if d is None:
                    continue
                if d.state != "pending":  # finished meanwhile (e.g. by another instance): log the attempt only
                    if o.result is not None:
                        self._log_attempt(s, d, o.result, o.at, d.attempts + 1)
                    continue
                d.leased_until, d.leased_by = None, None
                if o.subscription_inactive:
                    d.state, d.finished_at, d.last_error = "disabled", o.at, "subscription inactive"
                    continue
                if o.result is None:
                    continue
                self._apply(s, d, o.result, o.at)
                if o.result.outcome == "gone":
                    disabled.add(d.subscription_id)
            for sub_id in disabled:
                await disable_subscription(s, sub_id, reason="receiver answered 410 Gone", now=self.clock.now())

    def _log_attempt(self, s: AsyncSession, d: Delivery, r: DeliveryResult, at: datetime, no: int) -> None:
        s.add(DeliveryAttempt(delivery_id=d.id, attempt_no=no, at=at, outcome=r.outcome, status=r.status,
                              duration_ms=r.duration_ms, response_excerpt=r.response_excerpt,
                              error=r.error[:300] if r.error else None, instance=self.name))

    def _apply(self, s: AsyncSession, d: Delivery, r: DeliveryResult, at: datetime) -> None:
        d.attempts += 1
        self._log_attempt(s, d, r, at, d.attempts)
        d.last_status, d.last_error = r.status, (r.error or None) and (r.error or "")[:300]
        if r.outcome == "delivered":
            d.state, d.finished_at = "delivered", at
        elif r.outcome == "gone":
            d.state, d.finished_at = "disabled", at
        elif r.outcome == "failed":
            d.state, d.finished_at = "dead", at
        else:
            nxt = next_attempt_at(d.attempts, at, retry_after=r.retry_after, rng=self.rng)
            if nxt is None:
                d.state, d.finished_at = "dead", at
            else:
                d.next_attempt_at = nxt


def outage_wait(failures: int, poll_interval_s: float) -> float:
    """Seconds between claiming rounds after ``failures`` consecutive refused rounds: twice the poll interval,
    doubling each round, at most ``MAX_BACKOFF_S`` (the database is not hammered, a recovery is seen soon)."""
    return min(MAX_BACKOFF_S, poll_interval_s * float(2 ** failures))


async def disable_subscription(s: AsyncSession, subscription_id: str, *, reason: str, now: datetime) -> None:
    """Disable a subscription and park its pending deliveries as ``disabled`` (re-enabling re-queues them)."""
    await s.execute(update(Subscription).where(Subscription.id == subscription_id)
                    .values(active=False, disabled_reason=reason, disabled_at=now, updated_at=now))
    await s.execute(update(Delivery).where(Delivery.subscription_id == subscription_id,
                                           Delivery.state == "pending")
                    .values(state="disabled", finished_at=now, leased_until=None, leased_by=None,
                            last_error=reason[:300]))

