"""Payments from the bank's case system, and promises to pay checked against them, in the database.

A ``promise_to_pay`` disposition becomes a ``promises`` row in its own transaction (``on_domain_event``,
an outbox writer of the event log). A promise counts the payments of its case, in its currency, made from
the start of the call it was taken on until its deadline (the end of its date plus the client's grace, in
the case's zone). It turns ``kept`` in the transaction of the payment that covers it (less the client's
tolerance, fixed on the promise when it is made), and ``partial`` (something paid) or ``broken`` (nothing) in the
sweep (``sweep``, a tracked periodic job) once its deadline has passed without that. A payment reported after
that but paid before the deadline is counted all the same: when it covers the promise, the promise is kept
after all (``promise.kept_late``, and the callbacks feature closes the follow-up its ``promise.broken`` asked for);
when it does not, a broken promise becomes partial and shows what was paid. Both lock the promise
row (PostgreSQL ``FOR UPDATE``; the sweep ``SKIP LOCKED``) and re-read the sum of payments, so several
instances agree: the database is the only shared state. A broken promise's event (``promise.broken``) names
the agent to follow up (the case's assigned agent, else who took the promise); the callbacks feature turns it
into a callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor
from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from callbacks.models import handed_clause
from cases.models import Case, Disposition
from clients.models import pooling_of, settings_of
from core.clock import Clock
from core.events import DomainEvent, EventLog
from core.models import DomainEventRow
from db.base import new_id
from db.engine import Database
from dialer.models import Call
from payments import events as ev
from payments import rules
from payments.errors import NoSuchCase, NoSuchClient
from payments.models import KEPT, MISSED, PENDING, Payment, Promise
from payments.schemas import PaymentIn

DISPOSITION_RECORDED = "disposition.recorded"  # cases.events.DISPOSITION_RECORDED, read from the event log
WRITERS = (Role.INTEGRATION, Role.ADMIN)
READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.INTEGRATION, Role.ADMIN)
CHUNK = 500
SWEEP_BATCH = 200
Result = Literal["created", "unchanged", "conflict", "no-such-case", "invalid"]


@dataclass
class PaymentResult:
    """The result of one item of a payments request."""

    index: int
    payment_id: str | None
    result: Result = "invalid"
    id: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


class PaymentService:
    """Receives payments, takes promises from dispositions, settles them, lists both inside the walls."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock) -> None:
        self.db, self.events, self.clock = db, events, clock

    # -- promises from dispositions ---------------------------------------------------------------------
    async def on_domain_event(self, session: AsyncSession, row: DomainEventRow) -> None:
        """A ``promise_to_pay`` disposition of a case's call becomes a pending promise (same transaction)."""
        if row.type != DISPOSITION_RECORDED or row.payload.get("outcome") != "promise_to_pay":
            return
        amount, day = row.payload.get("promise_amount"), row.payload.get("promise_date")
        if not row.case_id or not row.call_id or not amount or not day:
            return
        case = await session.get(Case, row.case_id)
        call = await session.get(Call, row.call_id)
        disposition = (await session.scalars(select(Disposition).where(Disposition.call_id == row.call_id))).first()
        if case is None or call is None or disposition is None:
            return
        settings = await settings_of(session, case.client_id)
        promise_date = datetime.fromisoformat(day).date()
        promise = Promise(
            id=new_id(), disposition_id=disposition.id, call_id=call.id, case_id=case.id, client_id=case.client_id,
            team=case.team, batch_id=case.batch_id, agent_id=row.agent_id or call.agent_id, amount=Decimal(amount),
            currency=row.payload.get("promise_currency") or case.currency, promised_at=call.created_at,
            promise_date=promise_date, grace_days=settings.promise_grace_days,
            deadline=rules.deadline(promise_date, settings.promise_grace_days, case.timezone), status=PENDING,
            paid=Decimal(0), tolerance=rules.tolerance(Decimal(amount), Decimal(settings.promise_tolerance_percent)))
        session.add(promise)
        await session.flush()
        await self._record(session, ev.PROMISE_MADE, promise)
        await self._settle(session, promise, self.clock.now())  # paid already (during the call, say)

    # -- payments ---------------------------------------------------------------------------------------
    async def receive(self, principal: Principal, *, client_id: str, items: Sequence[Any],
                      actor: Actor | None = None) -> list[PaymentResult]:
        """Store each valid payment of a case of ``client_id`` once (by the bank's payment id), one result per
        item; each new payment settles its case's pending promises in its transaction."""
        principal.require(*WRITERS)
        if not Scope.of(principal).sees_client(client_id):
            raise NoSuchClient(f"no client {client_id}", details={"client": client_id})
        by = (actor.user_id if actor is not None else principal.user_id)[:64]
        results: list[PaymentResult] = []
        good: list[tuple[PaymentResult, PaymentIn]] = []
        for index, raw in enumerate(items):
            pid = raw.get("payment_id") if isinstance(raw, dict) else None
            item = PaymentResult(index, str(pid)[:64] if pid is not None else None)
            results.append(item)
            try:
                good.append((item, PaymentIn.model_validate(raw)))
            except ValidationError as exc:
                item.errors = [{"field": ".".join(str(p) for p in e["loc"]) or "(item)", "message": e["msg"]}
                               for e in exc.errors(include_url=False, include_input=False)]
        for start in range(0, len(good), CHUNK):
            async with self.db.begin() as s:
                for item, data in good[start:start + CHUNK]:
                    await self._one(s, client_id, item, data, by)
        return results

    async def _one(self, s: AsyncSession, client_id: str, item: PaymentResult, data: PaymentIn, by: str) -> None:
        case = (await s.scalars(select(Case).where(Case.client_id == client_id,
                                                   Case.external_id == data.case_external_id))).first()
        if case is None:
            item.result = "no-such-case"
            item.errors = [{"field": "case_external_id", "message": "no such case of this client"}]
            return
        now = self.clock.now()
        values = {"id": new_id(), "client_id": client_id, "external_id": data.payment_id, "case_id": case.id,
                  "amount": data.amount, "currency": data.currency, "paid_at": data.paid_at,
                  "agent_id": case.assigned_agent, "team": case.team, "batch_id": case.batch_id,
                  "received_at": now, "received_by": by}
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        created = (await s.execute(insert(Payment).values(**values).on_conflict_do_nothing()
                                   .returning(Payment.id))).first()
        if created is None:
            old = (await s.scalars(select(Payment).where(Payment.client_id == client_id,
                                                         Payment.external_id == data.payment_id))).one()
            item.id = old.id
            same = (old.case_id, old.amount, old.currency, old.paid_at) == (case.id, data.amount, data.currency,
                                                                             data.paid_at)
            item.result = "unchanged" if same else "conflict"
            if not same:
                item.errors = [{"field": "payment_id", "message": "this payment id was sent before with other "
                                                                  "content; the first is kept"}]
            return
        payment = await s.get(Payment, created[0])
        assert payment is not None
        item.id, item.result = payment.id, "created"
        await self.events.record(s, DomainEvent(type=ev.PAYMENT_RECEIVED, payload=ev.payment_payload(payment),
                                                case_id=case.id, agent_id=case.assigned_agent,
                                                client_id=client_id, team=case.team, occurred_at=now))
        # pending promises, and missed ones whose window the payment falls in (reported after the sweep)
        late = Promise.status.in_(MISSED) & (Promise.promised_at <= payment.paid_at) & (
            Promise.deadline > payment.paid_at)
        q = self.db.for_update(select(Promise).where(Promise.case_id == case.id, Promise.currency == payment.currency,
                                                     (Promise.status == PENDING) | late)
                               .order_by(Promise.promised_at, Promise.id))
        for promise in (await s.scalars(q.execution_options(populate_existing=True))).all():
            await self._settle(s, promise, now)

    # -- the deadline passing -----------------------------------------------------------------------------
    async def sweep(self) -> int:
        """Settle the pending promises whose deadline has passed (kept if paid by then, else broken); returns
        how many it settled. Rows another instance is settling are skipped (``SKIP LOCKED``), so instances
        never settle one twice."""
        now = self.clock.now()
        q = select(Promise).where(Promise.status == PENDING, Promise.deadline <= now).order_by(
            Promise.deadline, Promise.id).limit(SWEEP_BATCH)
        if not self.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        settled = 0
        async with self.db.begin() as s:
            for promise in (await s.scalars(q)).all():
                settled += await self._settle(s, promise, now)
        return settled

    async def _settle(self, s: AsyncSession, promise: Promise, now: datetime) -> int:
        """Re-read what the case paid towards ``promise`` and record its status; 1 when its status changed."""
        paid = await s.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.case_id == promise.case_id, Payment.currency == promise.currency,
            Payment.paid_at >= promise.promised_at, Payment.paid_at < promise.deadline))
        promise.paid = Decimal(str(paid))
        before = promise.status
        new = rules.status(amount=promise.amount, paid=promise.paid, tolerance=promise.tolerance,
                           deadline=promise.deadline, now=now)
        if new in (PENDING, before):
            await s.flush()
            return 0
        promise.status = new
        if before == PENDING or new == KEPT:
            promise.settled_at = now
        await s.flush()
        if before in MISSED:  # a late-reported payment: kept after all, or a broken one now partly paid
            if new == KEPT:
                await self._record(s, ev.PROMISE_KEPT_LATE, promise, previous_status=before)
        elif new == KEPT:
            await self._record(s, ev.PROMISE_KEPT, promise)
        else:
            case = await s.get(Case, promise.case_id)
            follow_up = (case.assigned_agent if case is not None else None) or promise.agent_id
            await self._record(s, ev.PROMISE_BROKEN, promise, followup_agent=follow_up)
        return 1

    async def _record(self, s: AsyncSession, type_: str, promise: Promise, **extra: Any) -> None:
        await self.events.record(s, DomainEvent(
            type=type_, payload=ev.promise_payload(promise, **extra), call_id=promise.call_id,
            case_id=promise.case_id, agent_id=promise.agent_id, client_id=promise.client_id, team=promise.team,
            occurred_at=self.clock.now()))

    # -- reads --------------------------------------------------------------------------------------------
    async def promises(self, principal: Principal, *, status: str | None = None, case_id: str | None = None,
                       limit: int = 100) -> list[Promise]:
        """Promises the caller may see (its clients; a team's supervisor its team's; an agent those it took),
        the nearest deadline first."""
        principal.require(*READERS)
        scope = Scope.of(principal)
        q = scope.where_client(select(Promise), Promise.client_id)
        if scope.agent is not None:
            q = q.where(Promise.agent_id == scope.agent)
        elif scope.team is not None:
            q = q.where(Promise.team == scope.team)
        if status is not None:
            q = q.where(Promise.status == status)
        if case_id is not None:
            q = q.where(Promise.case_id == case_id)
        async with self.db.read() as s:
            return list((await s.scalars(q.order_by(Promise.deadline, Promise.id).limit(limit))).all())

    async def of_case(self, principal: Principal, case_id: str) -> tuple[list[Payment], list[Promise]]:
        """A case's payments (newest first) and promises, when the caller may see the case (else NoSuchCase)."""
        principal.require(*READERS)
        async with self.db.read() as s:
            case = await s.get(Case, case_id)
            pooling = case is not None and await pooling_of(s, case.client_id)
            handed = case is not None and bool(await s.scalar(select(handed_clause(case.id))))
            if case is None or not Scope.of(principal).sees_case(client_id=case.client_id, team=case.team,
                                                                 assigned_agent=case.assigned_agent,
                                                                 pooling=pooling, handed=handed):
                raise NoSuchCase(f"no case {case_id}", details={"case_id": case_id})
            payments = (await s.scalars(select(Payment).where(Payment.case_id == case_id)
                                        .order_by(Payment.paid_at.desc(), Payment.id))).all()
            promises = (await s.scalars(select(Promise).where(Promise.case_id == case_id)
                                        .order_by(Promise.promised_at, Promise.id))).all()
        return list(payments), list(promises)
