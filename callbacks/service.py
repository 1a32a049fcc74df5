"""Callbacks that come back: a disposition's ``callback_at`` becomes a scheduled callback owned by the agent.

An inbound call nobody answered leaves one too (``schedule_missed_call``): for the case's agent, or for the
team when the case has no agent or the caller's number matches no case (then the callback carries it).
A callback is done when a call of its case connects (the customer answered) or when a disposition of
its case is recorded (which may schedule the next one). Dialling a due callback is an ordinary dial
(``POST /v1/calls`` with its case): the compliance gate decides, as for any dial; nothing here bypasses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from callbacks import events as ev
from callbacks.models import Callback
from clients.models import settings_of
from core.clock import Clock
from core.events import DomainEvent, EventLog
from core.models import DomainEventRow
from db.base import new_id
from db.engine import Database
from dialer.models import Call
from dialer.states import CallState

SCHEDULED, DONE = "scheduled", "done"
READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
DISPOSITION_RECORDED = "disposition.recorded"  # cases.events.DISPOSITION_RECORDED, read from the event log
PROMISE_BROKEN = "promise.broken"  # payments.events.PROMISE_BROKEN, read from the event log
PROMISE_KEPT_LATE = "promise.kept_late"  # payments.events.PROMISE_KEPT_LATE, read from the event log
FOLLOW_UP_BY = "promises"  # created_by of a broken promise's follow-up
View = Literal["mine", "team", "client"]


class CallbackService:
    """Schedules callbacks from dispositions, closes them when their case is reached, lists them due first."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock) -> None:
        self.db, self.events, self.clock = db, events, clock

    async def on_domain_event(self, session: AsyncSession, row: DomainEventRow) -> None:
        """A disposition closes its case's open callbacks and schedules its own ``callback_at``; a broken promise
        schedules a callback, due now, for the agent its event names, which is done (``promise_kept``) if a payment
        reported late keeps the promise after all (same transaction)."""
        if row.type == PROMISE_BROKEN:
            await self._follow_up(session, row)
            return
        if row.type == PROMISE_KEPT_LATE:
            if row.case_id and row.call_id:
                await self._close(session, row.case_id, reason="promise_kept", call_id=None,
                                  source_call_id=row.call_id, created_by=FOLLOW_UP_BY)
            return
        if row.type != DISPOSITION_RECORDED or not row.case_id or not row.agent_id:
            return
        await self._close(session, row.case_id, reason="disposed", call_id=row.call_id)
        due = row.payload.get("callback_at")
        if not due or not row.call_id:
            return
        due_at = datetime.fromisoformat(due)
        cb = Callback(id=new_id(), case_id=row.case_id, client_id=row.client_id, team=row.team, agent_id=row.agent_id,
                      due_at=due_at, state=SCHEDULED, source_call_id=row.call_id,
                      created_at=self.clock.now(), created_by=row.agent_id,
                      team_due_at=await _team_due(session, row.client_id, due_at))
        session.add(cb)
        await session.flush()
        await self._record(session, ev.CALLBACK_SCHEDULED, cb)

    async def _follow_up(self, session: AsyncSession, row: DomainEventRow) -> None:
        agent = row.payload.get("followup_agent")
        if not row.case_id or not row.call_id or not agent:
            return
        now = self.clock.now()
        cb = Callback(id=new_id(), case_id=row.case_id, client_id=row.client_id, team=row.team, agent_id=agent,
                      due_at=now, state=SCHEDULED, source_call_id=row.call_id, created_at=now, created_by=FOLLOW_UP_BY,
                      team_due_at=await _team_due(session, row.client_id, now))
        session.add(cb)
        await session.flush()
        await self._record(session, ev.CALLBACK_SCHEDULED, cb)

    async def schedule_missed_call(self, session: AsyncSession, *, call: Call, agent_id: str | None,
                                   team: str | None, number: str | None) -> None:
        """A customer called in and nobody answered: a callback due now for ``agent_id`` (the case's agent), or
        ``team`` (no agent, or no case: then ``number`` is who to call back), in the call's transaction. Dialling
        it is an ordinary dial: the gate decides then."""
        now = self.clock.now()
        cb = Callback(id=new_id(), case_id=call.case_id, client_id=call.client_id, team=team, agent_id=agent_id,
                      due_at=now, state=SCHEDULED, source_call_id=call.id, number=number, origin="inbound",
                      created_at=now, created_by="inbound")
        session.add(cb)
        await session.flush()
        await self._record(session, ev.CALLBACK_SCHEDULED, cb)

    async def on_call_state(self, session: AsyncSession, call: Call, state: CallState) -> None:
        """A call of the case that connects (the customer answered) does its open callbacks."""
        if state is CallState.ANSWERED and call.case_id:
            await self._close(session, call.case_id, reason="connected", call_id=call.id)

    async def hand_over(self) -> int:
        """Hand to its team every scheduled callback whose owner did not do it within the client's grace after
        it was due (``team_due_at``): its team's available agents are offered it next, and see its case. A
        periodic tracked job; rows another instance is handing over are skipped (``SKIP LOCKED``), and a handed
        callback is never handed again. Returns how many it handed."""
        now = self.clock.now()
        q = select(Callback).where(Callback.state == SCHEDULED, Callback.team_due_at <= now,
                                   Callback.handed_at.is_(None)).order_by(Callback.team_due_at, Callback.id).limit(500)
        if not self.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        async with self.db.begin() as s:
            rows = (await s.scalars(q)).all()
            for cb in rows:
                cb.handed_at = now
                await s.flush()
                await self._record(s, ev.CALLBACK_HANDED_TO_TEAM, cb)
        return len(rows)

    async def list(self, principal: Principal, *, view: View = "mine", state: str = SCHEDULED,
                   due_before: datetime | None = None, limit: int = 100) -> list[Callback]:
        """Callbacks due first: ``mine`` (owned by the caller), ``team`` (the caller's team), ``client`` (every
        one the caller may see), always inside the caller's scope (an agent sees its own, and its team's handed to
        the team after the client's grace)."""
        principal.require(*READERS)
        scope = Scope.of(principal)
        q = scope.where_client(select(Callback), Callback.client_id).where(Callback.state == state)
        if scope.agent is not None:  # its own, and its team's handed to the team
            handed = and_(Callback.handed_at.is_not(None), Callback.team == scope.team) if scope.team else false()
            q = q.where(or_(Callback.agent_id == scope.agent, handed))
        if scope.team is not None and scope.agent is None:
            q = q.where(Callback.team == scope.team)
        if view == "mine":
            q = q.where(Callback.agent_id == principal.user_id)
        elif view == "team":  # a user with no team has no team's callbacks
            q = q.where(Callback.team == principal.team) if principal.team is not None else q.where(false())
        if due_before is not None:
            q = q.where(Callback.due_at <= due_before)
        q = q.order_by(Callback.due_at, Callback.id).limit(limit)
        async with self.db.read() as s:
            return list((await s.scalars(q)).all())

    async def _close(self, session: AsyncSession, case_id: str, *, reason: str, call_id: str | None,
                     source_call_id: str | None = None, created_by: str | None = None) -> None:
        q = select(Callback).where(Callback.case_id == case_id, Callback.state == SCHEDULED)
        if source_call_id is not None:
            q = q.where(Callback.source_call_id == source_call_id)
        if created_by is not None:
            q = q.where(Callback.created_by == created_by)
        if session.get_bind().dialect.name != "sqlite":
            q = q.with_for_update()
        now = self.clock.now()
        for cb in (await session.scalars(q)).all():
            cb.state, cb.done_at, cb.done_reason, cb.done_call_id = DONE, now, reason, call_id
            await session.flush()
            await self._record(session, ev.CALLBACK_DONE, cb)

    async def _record(self, session: AsyncSession, type_: str, cb: Callback) -> None:
        await self.events.record(session, DomainEvent(
            type=type_, payload=ev.callback_payload(cb), case_id=cb.case_id, agent_id=cb.agent_id,
            client_id=cb.client_id, team=cb.team, occurred_at=self.clock.now()))


async def _team_due(session: AsyncSession, client_id: str | None, due_at: datetime) -> datetime | None:
    """When a callback due at ``due_at`` goes to its team: after the client's ``callback_team_grace_minutes``."""
    if client_id is None:
        return None
    settings = await settings_of(session, client_id)
    return due_at + timedelta(minutes=settings.callback_team_grace_minutes)
