"""Click-to-dial use cases: request a call, hang it up, apply PBX facts, reconcile after outages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role, User
from auth.scope import Scope
from auth.service import Principal
from config.settings import DialerSettings
from core.clock import Clock
from core.events import DomainEvent, EventLog
from core.logs import call_context
from core.pagination import after, where_equal
from core.phone import normalize
from db.base import new_id
from db.engine import Database
from dialer import events as ev
from dialer.errors import (
    CallAlreadyEnded,
    NoSuchAgent,
    NoSuchCall,
    NotYourAgent,
    OriginateFateUnknown,
    PbxUnavailable,
    ServiceOverloaded,
)
from dialer.gate import DialGate, DialRequest
from dialer.models import Call
from dialer.pbx import PbxGateway
from dialer.presented import number_for_call
from dialer.states import CallFacts, CallState, CallStatus, derive, transitions
from dialer.translate import FactUpdate

log = logging.getLogger(__name__)
StateListener = Callable[[AsyncSession, Call, CallState], Awaitable[None]]

_COLUMN_FACTS = (
    "originated_at", "agent_ringing_at", "agent_answered_at", "customer_ringing_at", "answered_at",
    "ended_at", "cancel_requested_at", "dial_status", "failure", "agent_channel", "customer_channel",
    "customer_uniqueid",
)
_JSON_FACTS = (
    "agent_dial_status", "originate_reason", "agent_cause", "agent_cause_text", "customer_cause", "customer_cause_text",
    "message_at",
)
DIAL_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION)
SEE_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.INTEGRATION, Role.QA)


@dataclass(frozen=True, slots=True)
class PostCommit:
    """A PBX action decided inside a transaction, carried out after it commits."""

    action: str  # "release" | "hangup"
    pbx: str
    channel: str


def facts_of(call: Call) -> CallFacts:
    """The facts stored on a call row."""
    extra = call.facts or {}
    values: dict[str, Any] = {k: getattr(call, k) for k in _COLUMN_FACTS}
    values.update({k: extra.get(k) for k in _JSON_FACTS})
    if isinstance(values["message_at"], str):
        values["message_at"] = datetime.fromisoformat(values["message_at"])
    return CallFacts(requested_at=call.created_at, **values)


def store(call: Call, facts: CallFacts, status: CallStatus) -> None:
    """Write facts and their derived status onto the row."""
    for k in _COLUMN_FACTS:
        setattr(call, k, getattr(facts, k))
    call.facts = {**(call.facts or {}), **{k: _json(getattr(facts, k)) for k in _JSON_FACTS}}
    call.state = status.state.value
    call.end_reason = status.end_reason.value if status.end_reason else None
    call.hangup_cause = status.hangup_cause
    call.hangup_cause_text = status.hangup_cause_text
    call.ring_seconds = status.ring_seconds
    call.talk_seconds = status.talk_seconds


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _serves(principal: Principal, agent: User) -> bool:
    """May ``principal`` dial as ``agent``? Itself; else an agent of its clients (and of its team, for a
    team's supervisor). Another bank's or team's agent is answered like an unknown one."""
    if principal.user_id == agent.id or principal.is_global:
        return True
    scope = Scope.of(principal)
    if scope.team is not None and agent.team != scope.team:
        return False
    return bool(set(agent.clients or ()) & set(principal.clients))


class CallService:
    """Requests calls through the gate and the PBX, and keeps each call's state from PBX facts."""

    def __init__(self, *, db: Database, events: EventLog, pbx: PbxGateway, gate: DialGate,
                 settings: DialerSettings, clock: Clock) -> None:
        self.db, self.events, self.pbx, self.gate = db, events, pbx, gate
        self.settings, self.clock = settings, clock
        self._state_listeners: list[StateListener] = []

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(session, call, state)`` inside the transaction whenever a call reaches a new state,
        or an ended call's facts are corrected (state ``ended`` again). Other features hook in here: the
        contact log when a call ends, the recording row from the agent's answer on."""
        self._state_listeners.append(listener)

    # -- requesting -----------------------------------------------------------------------------
    async def request_call(self, principal: Principal, *, agent_id: str, number: str,
                           case_id: str | None = None, override_reason: str | None = None,
                           presented_number: str | None = None) -> Call:
        """Run the gate and record the attempt in one transaction, then send the Originate.

        The customer is shown the primary presented number of the case's client, or ``presented_number``
        when given (a campaign's pick: it must be one of that client's numbers); no client or no number:
        the PBX default.
        """
        call_id = new_id()
        with call_context(call_id):  # every line logged about this dial names it
            return await self._request_call(principal, call_id, agent_id=agent_id, number=number, case_id=case_id,
                                            override_reason=override_reason, presented_number=presented_number)

    async def _request_call(self, principal: Principal, call_id: str, *, agent_id: str, number: str,
                            case_id: str | None, override_reason: str | None, presented_number: str | None) -> Call:
        e164 = self._authorise_dial(principal, agent_id, number)
        backlog = self.pbx.event_backlog()
        if backlog > self.settings.max_event_backlog:  # shed the new dial: the placed calls come first
            raise ServiceOverloaded(backlog, self.settings.max_event_backlog)
        blocked = None
        async with self.db.begin() as s:
            agent = await self._agent(s, agent_id, principal)
            request = DialRequest(call_id=call_id, agent_id=agent_id, team=agent.team, number=e164,
                                  case_id=case_id, principal=principal, now=self.clock.now(),
                                  override_reason=override_reason)
            decision = await self.gate.check(s, request)
            if not decision.allowed:
                blocked = decision.error
            else:
                presented = await number_for_call(s, decision.client_id, preferred=presented_number)
                call = Call(id=call_id, agent_id=agent_id, team=agent.team, requested_by=principal.user_id,
                            number=e164, case_id=decision.case_id or case_id, client_id=decision.client_id,
                            batch_id=decision.batch_id, debtor_key=decision.debtor_key,
                            number_kind=decision.number_kind, decision_id=decision.decision_id,
                            presented_number=presented, pbx=agent.pbx or self.pbx.default,
                            sip_user=agent.sip_user or "",
                            state=CallState.REQUESTED.value, created_at=request.now, facts={})
                s.add(call)  # inserted by the event's flush, in the same transaction
                await self._record(s, ev.CALL_REQUESTED, call)
        if blocked is not None:
            raise blocked
        try:
            await self.pbx.originate(call.pbx, call_id=call.id, sip_user=call.sip_user, number=e164,
                                     presented=call.presented_number)
        except OriginateFateUnknown:
            log.warning("AMI connection lost after Originate of call %s; its fate comes from events", call.id)
        except PbxUnavailable as exc:
            log.warning("Originate not sent, the call ends as failed: %s", exc.message)
            await self._fail(call.id, "pbx-unavailable")
            raise
        return call

    async def check(self, principal: Principal, *, agent_id: str, number: str, case_id: str | None = None,
                    override_reason: str | None = None) -> dict[str, Any]:
        """The gate's answer for a dial, without dialling (the check is logged, never counted)."""
        e164 = self._authorise_dial(principal, agent_id, number)
        async with self.db.begin() as s:
            agent = await self._agent(s, agent_id, principal)
            decision = await self.gate.check(s, DialRequest(
                call_id=new_id(), agent_id=agent_id, team=agent.team, number=e164, case_id=case_id,
                principal=principal, now=self.clock.now(), override_reason=override_reason, dry_run=True))
        return {**decision.body, "number": e164}

    def _authorise_dial(self, principal: Principal, agent_id: str, number: str) -> str:
        principal.require(*DIAL_ROLES)
        if principal.role == Role.AGENT and principal.user_id != agent_id:
            raise NotYourAgent("an agent may dial only as themselves", details={"agent": agent_id})
        return normalize(number, self.settings.default_region)

    async def _agent(self, s: AsyncSession, agent_id: str, principal: Principal) -> User:
        agent = await s.get(User, agent_id)
        if agent is None or agent.role != Role.AGENT or not agent.active or not agent.sip_user \
                or not _serves(principal, agent):
            raise NoSuchAgent(f"no active agent {agent_id!r} with a phone", details={"agent": agent_id})
        return agent

    async def hangup(self, principal: Principal, call_id: str) -> Call:
        """Hang up a call (the agent's own, or any for supervisors)."""
        with call_context(call_id):
            return await self._hangup(principal, call_id)

    async def _hangup(self, principal: Principal, call_id: str) -> Call:
        post: PostCommit | None = None
        async with self.db.begin() as s:
            call = await self._get_for_update(s, call_id, principal)
            if call.state == CallState.ENDED:
                raise CallAlreadyEnded("the call has already ended", details={"call_id": call_id})
            facts = facts_of(call).merge(cancel_requested_at=self.clock.now())
            store(call, facts, derive(facts))
            # after a transfer the customer's channel carries the call (dialer/transfers.py)
            channel = call.customer_channel if (call.facts or {}).get("segments") else call.agent_channel
            if channel:
                post = PostCommit("hangup", call.pbx, channel)
        if post:
            await self._run(post)
        return call

    # -- PBX facts ------------------------------------------------------------------------------
    async def apply(self, update: FactUpdate) -> None:
        """Merge the facts of one PBX event into its call; record domain events for what changed."""
        with call_context(update.call_id):  # every line logged while the call is updated names it
            for p in await self._apply((update,)):
                await self._run(p)

    async def apply_all(self, updates: Sequence[FactUpdate]) -> None:
        """Merge the facts of consecutive PBX events of one call, in order, in one transaction.

        Each event is merged as ``apply`` would merge it alone (the same domain events, listeners and PBX
        actions, in the same order): only the row lock, the row's read and write and the commit are shared.
        If the shared transaction fails, each event is applied in a transaction of its own, so one bad event
        loses only its own facts, as when applied alone.
        """
        if len(updates) == 1:
            await self.apply(updates[0])
            return
        call_id = updates[0].call_id
        if any(u.call_id != call_id for u in updates):
            raise ValueError("apply_all takes the updates of one call")
        with call_context(call_id):
            try:
                post = await self._apply(updates)
            except Exception:  # noqa: BLE001 - retried one by one below, where each failure is logged alone
                log.info("call %s: %d events did not apply together; applying them one by one", call_id,
                         len(updates), exc_info=True)
                for update in updates:
                    try:
                        await self.apply(update)
                    except Exception:  # noqa: BLE001 - as a listener's failure: logged, the next event goes on
                        log.exception("call %s: the facts of %s were not applied", call_id, update.event)
                return
            for p in post:
                try:
                    await self._run(p)
                except Exception:  # noqa: BLE001 - as a listener's failure: logged, the next action goes on
                    log.exception("call %s: PBX %s of %s failed", call_id, p.action, p.channel)

    async def _apply(self, updates: Sequence[FactUpdate]) -> list[PostCommit]:
        """Merge ``updates`` (of one call) in one transaction; the PBX actions to carry out after its commit."""
        post: list[PostCommit] = []
        async with self.db.begin() as s:
            call = (await s.execute(self.db.for_update(select(Call).where(Call.id == updates[0].call_id)))).scalar()
            if call is None:
                return []
            for update in updates:
                post.extend(await self._merge(s, call, update))
        return post

    async def _merge(self, s: AsyncSession, call: Call, update: FactUpdate) -> list[PostCommit]:
        """Merge one event's facts into the locked ``call``; record what changed; the PBX actions it asks for."""
        before_facts = facts_of(call)
        after_facts = before_facts.merge(**update.facts)
        if after_facts == before_facts:
            return []
        before, after = derive(before_facts), derive(after_facts)
        store(call, after_facts, after)
        changed = [(ev.REACHED[state], state) for state in transitions(before, after)]
        if before.state == after.state == CallState.ENDED and before != after:
            changed.append((ev.CALL_CORRECTED, CallState.ENDED))
        for type_, state in changed:
            await self._record(s, type_, call)
            for listener in self._state_listeners:
                await listener(s, call, state)
        return await self._decide_actions(s, call, before_facts, after_facts)

    async def _decide_actions(self, s: AsyncSession, call: Call, before: CallFacts,
                              after: CallFacts) -> list[PostCommit]:
        if after.ended_at is not None or after.agent_channel is None or call.direction == "inbound":
            return []  # an inbound call's agent leg is the dial plan's own Dial: no go-ahead, no gate
        if after.cancel_requested_at is not None and before.agent_channel is None:
            return [PostCommit("hangup", call.pbx, after.agent_channel)]
        if after.agent_answered_at is not None and before.agent_answered_at is None:
            block = await self.gate.check_before_customer(s, call_id=call.id, case_id=call.case_id,
                                                          now=self.clock.now())
            if block is None:
                return [PostCommit("release", call.pbx, after.agent_channel)]
            facts = after.merge(cancel_requested_at=self.clock.now())
            store(call, facts, derive(facts))
            call.facts = {**call.facts, "cancel_reason": block}
            return [PostCommit("hangup", call.pbx, after.agent_channel)]
        return []

    async def reconcile(self, pbx: str) -> int:
        """After an AMI reconnect: end calls on ``pbx`` that the PBX no longer has. Returns how many."""
        listed_at = self.clock.now()
        live = await self.pbx.live_call_ids(pbx)
        # calls requested in the last seconds may not have a channel yet: leave them to their events
        settled = listed_at - timedelta(seconds=5)
        async with self.db.read() as s:
            ids = (await s.scalars(select(Call.id).where(
                Call.pbx == pbx, Call.state != CallState.ENDED.value, Call.created_at < settled))).all()
        gone = [cid for cid in ids if cid not in live]
        for cid in gone:
            await self.apply(FactUpdate(cid, "reconcile", {"failure": "lost-by-pbx", "ended_at": self.clock.now()}))
        return len(gone)

    async def end_stale(self) -> int:
        """End calls that stayed 'requested' with no PBX event for too long (the Originate was lost)."""
        cutoff = self.clock.now() - timedelta(seconds=self.settings.stale_call_after_s)
        async with self.db.read() as s:
            ids = (await s.scalars(select(Call.id).where(Call.state == CallState.REQUESTED.value,
                                                           Call.created_at < cutoff))).all()
        for cid in ids:
            await self.apply(FactUpdate(cid, "stale", {"failure": "no-pbx-events", "ended_at": self.clock.now()}))
        return len(ids)

    # -- reading --------------------------------------------------------------------------------
    async def get(self, principal: Principal, call_id: str) -> Call:
        """One call visible to ``principal``."""
        async with self.db.read() as s:
            call = await s.get(Call, call_id)
            self._check_visible(principal, call, call_id)
            assert call is not None
            return call

    async def list(self, principal: Principal, *, agent: str | None = None, state: str | None = None,
                   case_id: str | None = None, direction: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, cursor: tuple[datetime, str] | None = None,
                   limit: int = 50) -> list[Call]:
        """Calls newest first, filtered, inside the caller's scope (``auth.scope``: own, team, clients)."""
        principal.require(*SEE_ROLES)
        q = select(Call).where(Scope.of(principal).call_clause(Call.client_id, Call.team, Call.agent_id,
                                                               Call.requested_by, me=principal.user_id))
        q = where_equal(q, (Call.agent_id, agent), (Call.state, state), (Call.case_id, case_id),
                        (Call.direction, direction))
        if since:
            q = q.where(Call.created_at >= since)
        if until:
            q = q.where(Call.created_at < until)
        if cursor:
            q = q.where(after(Call.created_at, Call.id, cursor))
        q = q.order_by(Call.created_at.desc(), Call.id.desc()).limit(limit)
        async with self.db.read() as s:
            return list((await s.scalars(q)).all())

    # -- helpers --------------------------------------------------------------------------------
    def _check_visible(self, principal: Principal, call: Call | None, call_id: str) -> None:
        """Another client's, team's or agent's call answers exactly like a missing one."""
        if call is None or not principal.is_any(SEE_ROLES) or not Scope.of(principal).sees_call(
                client_id=call.client_id, team=call.team, agent_id=call.agent_id, requested_by=call.requested_by,
                me=principal.user_id):
            raise NoSuchCall(f"no call {call_id}", details={"call_id": call_id})

    async def _get_for_update(self, s: AsyncSession, call_id: str, principal: Principal) -> Call:
        call = (await s.execute(self.db.for_update(select(Call).where(Call.id == call_id)))).scalar()
        self._check_visible(principal, call, call_id)
        assert call is not None
        return call

    async def _record(self, s: AsyncSession, type_: str, call: Call) -> None:
        await self.events.record(s, DomainEvent(
            type=type_, payload=ev.call_payload(call), call_id=call.id, case_id=call.case_id,
            agent_id=call.agent_id, client_id=call.client_id, team=call.team, occurred_at=self.clock.now(),
        ))

    async def _fail(self, call_id: str, failure: str) -> None:
        await self.apply(FactUpdate(call_id, "failure", {"failure": failure, "ended_at": self.clock.now()}))

    async def _run(self, post: PostCommit) -> None:
        try:
            if post.action == "release":
                await self.pbx.release_customer_leg(post.pbx, post.channel)
            else:
                await self.pbx.hangup(post.pbx, post.channel)
        except PbxUnavailable as exc:  # the committed facts stand; the PBX's events tell the rest
            log.warning("PBX %s of %s failed: %s", post.action, post.channel, exc)
