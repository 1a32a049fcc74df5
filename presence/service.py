"""Agent presence: what agents and supervisors choose, what the PBX says of phones, what calls do.

Every change runs in one unit of work: the agent's row is locked (``FOR UPDATE`` on PostgreSQL, the
write lock on SQLite), its facts changed, its state derived again (``presence.states``); when the state
changed, the current history span is closed, a new one opened and ``agent.state_changed`` recorded.
Two instances applying the same PBX event give the same row; only the one whose update changed the state
records the event. Nothing lives in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role, User
from auth.scope import Scope
from auth.service import Principal
from config.settings import PresenceSettings
from core.clock import Clock
from core.events import DomainEvent, EventLog
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call, CallLeg
from dialer.pbx import PbxGateway
from dialer.states import CallState
from dialer.translate import DeviceUpdate
from presence import events as ev
from presence.errors import AgentNotAvailable, NoSuchAgent, StateNotSettable, UnknownPauseCode
from presence.models import AgentPresence, AgentStateSpan
from presence.states import (
    NOT_DIALLABLE,
    SETTABLE,
    AgentFacts,
    AgentState,
    CallPhase,
    Intent,
    Presence,
    call_answered,
    call_ended,
    call_rings,
    choose,
    derive,
    disposed,
    phone,
)

log = logging.getLogger(__name__)
PresenceListener = Callable[[AsyncSession, str, Presence], Awaitable[None]]
"""Told ``(session, agent_id, new presence)`` inside the transaction whenever an agent's state changes."""

READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
SETTERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
_ANSWERED = (CallState.AGENT_ANSWERED, CallState.CUSTOMER_RINGING, CallState.ANSWERED)
_CALL_STATES = (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
DISPOSITION_RECORDED = "disposition.recorded"  # cases.events.DISPOSITION_RECORDED, read from the event log


def facts_of(row: AgentPresence) -> AgentFacts:
    """The facts stored on a presence row."""
    return AgentFacts(intent=Intent(row.intent), pause_code=row.pause_code, registered=row.registered,
                      call_id=row.call_id, call_phase=CallPhase(row.call_phase) if row.call_phase else None,
                      wrap_up_until=row.wrap_up_until)


def stored_presence(row: AgentPresence) -> Presence:
    """The derived state stored on a presence row, with its pause code (``paused``) or reason."""
    return Presence(AgentState(row.state), row.pause_code if row.state == "paused" else None, row.reason)


def _store(row: AgentPresence, f: AgentFacts) -> None:
    row.intent, row.pause_code, row.registered = f.intent.value, f.pause_code, f.registered
    row.call_id, row.call_phase, row.wrap_up_until = f.call_id, f.call_phase.value if f.call_phase else None, \
        f.wrap_up_until


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent as presence lists it: the user and its presence row (None: presence has not heard of it)."""

    user: User
    row: AgentPresence | None

    @property
    def presence(self) -> Presence:
        """The stored derived state (an agent never heard of: the state of default facts)."""
        if self.row is None:
            return Presence(AgentState.AVAILABLE)
        return stored_presence(self.row)


class PresenceService:
    """Agent presence (see the module docstring); ``check_dialable`` is the dial's presence check."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, settings: PresenceSettings,
                 pbx: PbxGateway | None = None) -> None:
        self.db, self.events, self.clock, self.settings, self.pbx = db, events, clock, settings, pbx
        self._listeners: list[PresenceListener] = []

    def add_state_listener(self, listener: PresenceListener) -> None:
        """Call ``listener(session, agent_id, presence)`` in the transaction of every state change (campaigns
        take back the offers of an agent who paused or went offline)."""
        self._listeners.append(listener)

    # -- reading --------------------------------------------------------------------------------
    async def agents(self, principal: Principal, *, state: AgentState | None = None,
                   team: str | None = None) -> list[AgentView]:
        """The agents ``principal`` may see (itself, its team's, its clients'), with their state and since when."""
        principal.require(*READERS)
        scope = Scope.of(principal)
        q = select(User, AgentPresence).outerjoin(AgentPresence, AgentPresence.agent_id == User.id).where(
            User.role == Role.AGENT.value, User.active.is_(True)).order_by(User.id)
        if scope.agent is not None:
            q = q.where(User.id == scope.agent)
        if scope.team is not None:
            q = q.where(User.team == scope.team)
        if team is not None:
            q = q.where(User.team == team)
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        views = [AgentView(u, p) for u, p in rows if _serves(scope, u)]
        return [v for v in views if state is None or v.presence.state is state]

    async def get(self, principal: Principal, agent_id: str) -> AgentView:
        """One agent's presence (404 when it is not an agent ``principal`` may see)."""
        principal.require(*READERS)
        async with self.db.read() as s:
            user = await self._visible_agent(s, principal, agent_id)
            return AgentView(user, await s.get(AgentPresence, agent_id))

    async def history(self, principal: Principal, agent_id: str, *, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 100) -> list[AgentStateSpan]:
        """The agent's state spans, newest first, overlapping [since, until)."""
        principal.require(*READERS)
        q = select(AgentStateSpan).where(AgentStateSpan.agent_id == agent_id)
        if until is not None:
            q = q.where(AgentStateSpan.started_at < until)
        if since is not None:
            q = q.where((AgentStateSpan.ended_at.is_(None)) | (AgentStateSpan.ended_at > since))
        q = q.order_by(AgentStateSpan.started_at.desc(), AgentStateSpan.id.desc()).limit(limit)
        async with self.db.read() as s:
            await self._visible_agent(s, principal, agent_id)
            return list((await s.scalars(q)).all())

    async def occupancy(self, principal: Principal, *, since: datetime, until: datetime,
                        group_by: str = "agent", team: str | None = None) -> list[dict[str, Any]]:
        """Seconds in each state per agent (or team) over [since, until), pause time by code, and occupancy.

        ``logged_in_s`` is every state but offline; occupancy is (ringing + on_call + wrap_up) over that plus
        available (the time the agent could have taken calls); None when that is zero.
        """
        agents = {v.user.id: v.user for v in await self.agents(principal, team=team)}
        end = min(until, self.clock.now())
        q = select(AgentStateSpan).where(AgentStateSpan.started_at < end,
                                         (AgentStateSpan.ended_at.is_(None)) | (AgentStateSpan.ended_at > since))
        if len(agents) <= 500:
            q = q.where(AgentStateSpan.agent_id.in_(sorted(agents)))
        async with self.db.read() as s:
            spans = (await s.scalars(q)).all()
        groups: dict[str, dict[str, Any]] = {}
        for span in spans:
            user = agents.get(span.agent_id)
            if user is None:
                continue
            key = user.id if group_by == "agent" else (user.team or "")
            g = groups.setdefault(key, _empty_group(group_by, key, user))
            seconds = (min(span.ended_at or end, end) - max(span.started_at, since)).total_seconds()
            if seconds <= 0:
                continue
            g[f"{span.state}_s"] += seconds
            if span.state == AgentState.PAUSED.value:
                pause = span.pause_code or "none"
                g["paused_by_code"][pause] = g["paused_by_code"].get(pause, 0.0) + seconds
        for g in groups.values():
            busy = g["ringing_s"] + g["on_call_s"] + g["wrap_up_s"]
            g["logged_in_s"] = busy + g["available_s"] + g["paused_s"]
            g["occupancy"] = round(busy / (busy + g["available_s"]), 4) if busy + g["available_s"] > 0 else None
            for k, v in list(g.items()):
                if k.endswith("_s"):
                    g[k] = round(v, 3)
            g["paused_by_code"] = {k: round(v, 3) for k, v in sorted(g["paused_by_code"].items())}
        return [groups[k] for k in sorted(groups)]

    # -- choosing -------------------------------------------------------------------------------
    async def set_state(self, principal: Principal, agent_id: str, state: AgentState,
                        pause_code: str | None = None) -> AgentView:
        """An agent sets its own state; a supervisor or admin sets the state of an agent in its scope.

        Only ``available``, ``paused`` (with a configured pause code) and ``offline`` (logged out) may be
        asked for. Asked during a call, the choice applies when the call and its wrap-up are over; it ends a
        wrap-up at once.
        """
        principal.require(*SETTERS)
        intent = SETTABLE.get(state)
        if intent is None:
            raise StateNotSettable(f"'{state}' follows calls and cannot be set; set available, paused or offline",
                                   details={"state": str(state), "settable": sorted(SETTABLE)})
        if intent is Intent.PAUSED and pause_code not in self.settings.pause_codes:
            raise UnknownPauseCode("a pause needs one of the configured pause codes",
                                   details={"pause_code": pause_code, "pause_codes": self.settings.pause_codes})
        if intent is not Intent.PAUSED and pause_code is not None:
            raise UnknownPauseCode("a pause code goes only with the paused state", details={"pause_code": pause_code})
        async with self.db.begin() as s:
            user = await self._visible_agent(s, principal, agent_id)
            row = await self._change(s, user.id, lambda f: choose(f, intent, pause_code), by=principal.user_id,
                                     user=user)
        return AgentView(user, row)

    # -- the PBX --------------------------------------------------------------------------------
    async def apply_device(self, pbx: str, update: DeviceUpdate) -> bool:
        """A phone's registration from the PBX; True when it changed an agent's row."""
        if update.registered is None:
            return False
        async with self.db.read() as s:
            known = (await s.execute(select(User.id, AgentPresence.registered, AgentPresence.device_at).outerjoin(
                AgentPresence, AgentPresence.agent_id == User.id).where(
                User.sip_user == update.sip_user, User.role == Role.AGENT.value))).first()
        if known is None or known.registered is update.registered:
            return False  # not an agent's phone, or nothing new (most device changes are calls)
        async with self.db.begin() as s:
            user = await s.get(User, known.id)
            if user is None:
                return False
            current = await s.get(AgentPresence, user.id)
            if current is not None and current.device_at is not None and update.at < current.device_at:
                return False  # an older report than the one stored (another instance was faster)

            def registered(f: AgentFacts) -> AgentFacts:
                return phone(f, update.registered is True)

            row = await self._change(s, user.id, registered, by=f"pbx:{pbx}", user=user)
            if row is not None:
                row.device_state, row.device_at, row.pbx = update.device_state, update.at, pbx
        return True

    async def sync_devices(self, pbx: str) -> int:
        """Read every phone's state from ``pbx`` (after a connect, and periodically); how many rows changed."""
        if self.pbx is None:
            return 0
        changed = 0
        for item in await self.pbx.device_states(pbx, self.clock.now()):
            changed += await self.apply_device(pbx, item)
        return changed

    # -- calls ----------------------------------------------------------------------------------
    async def on_call_state(self, session: AsyncSession, call: Call, state: CallState) -> None:
        """A call's state moves its agent: ringing, on_call from its answer, wrap-up after it (in the call's
        transaction)."""
        change = _call_change(call, state, self._wrap_up_until(call))
        if change is not None:
            await self._change(session, call.agent_id, change, by="call")

    async def on_leg(self, session: AsyncSession, call: Call, leg: CallLeg, step: str) -> None:
        """A transferred call's leg moves its person (in the leg's transaction): the target rings and is on the
        call; whoever leaves the customer (the agent after a transfer, the target at the end) goes to wrap-up.
        An outside party's leg (no user) moves nobody."""
        if leg.user_id is None:
            return
        user = await session.get(User, leg.user_id)
        if user is None or user.role != Role.AGENT.value:
            return
        change: Callable[[AgentFacts], AgentFacts]
        if step == "ringing":
            def change(f: AgentFacts) -> AgentFacts:
                return call_rings(f, call.id)
        elif step == "answered":
            def change(f: AgentFacts) -> AgentFacts:
                return call_answered(f, call.id)
        elif step == "ended":
            seconds = self.settings.wrap_up_by_client.get(call.client_id or "", self.settings.wrap_up_s)
            until = (leg.ended_at or self.clock.now()) + timedelta(seconds=seconds) \
                if leg.answered_at is not None and seconds > 0 else None

            def change(f: AgentFacts) -> AgentFacts:
                return call_ended(f, call.id, wrap_up_until=until)
        else:
            return
        await self._change(session, user.id, change, by="transfer", user=user)

    async def on_domain_event(self, session: AsyncSession, row: DomainEventRow) -> None:
        """A saved disposition ends its call's wrap-up (in the disposition's transaction)."""
        if row.type != DISPOSITION_RECORDED or not row.agent_id or not row.call_id:
            return
        call_id = row.call_id
        current = await session.get(AgentPresence, row.agent_id)
        if current is None or current.state != AgentState.WRAP_UP.value or current.call_id != call_id:
            return
        await self._change(session, row.agent_id, lambda f: disposed(f, call_id), by="disposition")

    def _wrap_up_until(self, call: Call) -> datetime | None:
        """When the wrap-up after ``call`` ends: None when the agent never answered it (nothing to write up)."""
        if call.agent_answered_at is None:
            return None
        seconds = self.settings.wrap_up_by_client.get(call.client_id or "", self.settings.wrap_up_s)
        if seconds <= 0:
            return None
        return (call.ended_at or self.clock.now()) + timedelta(seconds=seconds)

    async def end_wrap_ups(self) -> int:
        """Agents whose wrap-up time is over become what they chose (run every ``sweep_interval_s``)."""
        now = self.clock.now()
        async with self.db.read() as s:
            ids = (await s.scalars(select(AgentPresence.agent_id).where(
                AgentPresence.state == AgentState.WRAP_UP.value, AgentPresence.wrap_up_until <= now))).all()
        for agent_id in ids:
            async with self.db.begin() as s:
                await self._change(s, agent_id, lambda f: f, by="wrap-up-timer")
        return len(ids)

    # -- dialling -------------------------------------------------------------------------------
    async def check_dialable(self, session: AsyncSession, agent_id: str) -> None:
        """Refuse (409 ``agent-not-available``) a dial for an agent who is paused or offline."""
        row = await session.get(AgentPresence, agent_id)
        if row is None:
            return
        current = derive(facts_of(row), self.clock.now())
        if current.state in NOT_DIALLABLE:
            why = current.pause_code or current.reason
            raise AgentNotAvailable(
                f"agent {agent_id} is {current.state} ({why}): set the agent available first",
                details={"agent": agent_id, "state": current.state.value, "pause_code": current.pause_code,
                         "reason": current.reason})

    async def check_transferable(self, session: AsyncSession, user_id: str) -> None:
        """Refuse (409 ``agent-not-available``) a transfer to an agent who is not available (paused, offline,
        ringing, on a call, in wrap-up); a user without presence (a supervisor) is not refused."""
        row = await session.get(AgentPresence, user_id)
        if row is None:
            return
        current = derive(facts_of(row), self.clock.now())
        if current.state is not AgentState.AVAILABLE:
            raise AgentNotAvailable(
                f"agent {user_id} is {current.state}: a transfer needs an available agent",
                details={"agent": user_id, "state": current.state.value, "pause_code": current.pause_code,
                         "reason": current.reason})

    # -- helpers --------------------------------------------------------------------------------
    async def _visible_agent(self, s: AsyncSession, principal: Principal, agent_id: str) -> User:
        user = await s.get(User, agent_id)
        scope = Scope.of(principal)
        if (user is None or user.role != Role.AGENT.value or not _serves(scope, user)
                or (scope.agent is not None and user.id != scope.agent)
                or (scope.team is not None and user.team != scope.team)):
            raise NoSuchAgent(f"no agent {agent_id}", details={"agent": agent_id})
        return user

    async def _create(self, s: AsyncSession, user: User, now: datetime) -> tuple[AgentPresence, bool]:
        """The agent's row, created (with default facts) when presence has not heard of it yet, and locked."""
        first = derive(AgentFacts(), now)
        values = {"agent_id": user.id, "team": user.team, "intent": Intent.AVAILABLE.value, "state": first.state.value,
                  "since": now, "updated_at": now, "updated_by": "presence"}
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        created = (await s.execute(insert(AgentPresence).values(**values).on_conflict_do_nothing()
                                   .returning(AgentPresence.agent_id))).first()
        q = self.db.for_update(select(AgentPresence).where(AgentPresence.agent_id == user.id))
        row = (await s.execute(q.execution_options(populate_existing=True))).scalar_one()
        return row, created is not None

    async def _change(self, s: AsyncSession, agent_id: str, change: Callable[[AgentFacts], AgentFacts], *,
                      by: str, user: User | None = None) -> AgentPresence | None:
        """Change the agent's facts under its row's lock and derive its state again; when the state changed,
        close its history span, open the next and record ``agent.state_changed``. A change that leaves the
        facts and the state as they are writes nothing (most of a call's states do not move its agent), and
        needs neither the user nor a write. None when ``agent_id`` is no user."""
        now = self.clock.now()
        row = (await s.execute(self.db.for_update(
            select(AgentPresence).where(AgentPresence.agent_id == agent_id)))).scalar()
        created = False
        if row is not None:
            facts_before = facts_of(row)
            facts = change(facts_before)
            before: Presence | None = stored_presence(row)
            after = derive(facts, now)
            if facts == facts_before and after == before:
                return row
        user = user or await s.get(User, agent_id)
        if user is None:
            return None
        if row is None:
            row, created = await self._create(s, user, now)
            before = None if created else stored_presence(row)
            facts = change(facts_of(row))
            after = derive(facts, now)
        _store(row, facts)
        row.team, row.updated_at = user.team, now
        if after != before:
            previous = row.state if not created else None
            row.state, row.reason, row.since, row.updated_by = after.state.value, after.reason, now, by
            await s.execute(update(AgentStateSpan).where(AgentStateSpan.agent_id == user.id,
                                                          AgentStateSpan.ended_at.is_(None)).values(ended_at=now))
            call_id = facts.call_id if after.state in _CALL_STATES else None
            s.add(AgentStateSpan(agent_id=user.id, team=user.team, state=after.state.value,
                                 pause_code=after.pause_code, reason=after.reason, call_id=call_id,
                                 started_at=now, changed_by=by))
            await s.flush()
            payload = ev.presence_payload(row, previous, call_id)
            # one event per change, of the agent's first client (the stream and webhooks wall events by one
            # client); an agent serving several banks shows in the others' streams only through GET /v1/agents
            client = min(user.clients) if user.clients else None
            await self.events.record(s, DomainEvent(type=ev.AGENT_STATE_CHANGED, payload=payload, agent_id=user.id,
                                                    client_id=client, team=user.team, call_id=call_id,
                                                    occurred_at=now))
            for listener in self._listeners:
                await listener(s, user.id, after)
        return row


def _call_change(call: Call, state: CallState,
                 wrap_up_until: datetime | None) -> Callable[[AgentFacts], AgentFacts] | None:
    """How a call reaching ``state`` changes its agent's facts (None: it does not)."""
    if state is CallState.AGENT_RINGING:
        return lambda f: call_rings(f, call.id)
    if state in _ANSWERED:
        return lambda f: call_answered(f, call.id)
    if state is CallState.ENDED:
        return lambda f: call_ended(f, call.id, wrap_up_until=wrap_up_until)
    return None


def _serves(scope: Scope, user: User) -> bool:
    """Does ``scope`` see the agent ``user`` (itself, one of its clients, or a global scope)?"""
    if scope.clients is None or scope.agent == user.id:
        return True
    return bool(scope.clients & set(user.clients or []))


def _empty_group(group_by: str, key: str, user: User) -> dict[str, Any]:
    g: dict[str, Any] = {"agent_id": key, "team": user.team} if group_by == "agent" else {"team": key or None}
    g.update({f"{s.value}_s": 0.0 for s in AgentState})
    g["paused_by_code"] = {}
    return g
