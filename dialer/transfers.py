"""Transfer use cases: hand a live call's customer to another agent, a supervisor or an outside number, and
keep its legs.

The call stays one call (same id); each person who talks to the customer is a leg (``call_legs``: the
call's own agent is leg 1). The target is named by user id and resolved here to its SIP user, inside the
call's walls (its client; its team for agents) and only when available (the presence check wired in by
the composition root). The PBX side is in ``PbxGateway.blind_transfer`` (docs/PBX.md "Transfer"); the
PBX's events come back through ``dialer.translate.translate_leg`` into :meth:`TransferService.apply_leg`.

A transfer to an outside number is a dial: the number is normalised like a dial's, then the compliance gate
(the same ``DialGate`` a dial passes, never presence's wrapper: the agent is on this call) decides it for the
call's case, as a dial by whoever transfers, inside the transfer's transaction. A blocked transfer keeps only
the decision (logged, ``call.blocked``) and answers the gate's 409; an allowed one dials the number through the
customer trunk presenting the client's number (``PbxGateway.blind_transfer_out``). Its leg (role ``outside``)
has a number and no user: its talk is no agent's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role, User
from auth.scope import Scope
from auth.service import Principal
from core.clock import Clock, iso_or_none
from core.events import DomainEvent, EventLog
from core.phone import normalize
from db.base import new_id
from db.engine import Database
from dialer import events as ev
from dialer.errors import CallNotTransferable, NoSuchCall, NoSuchTransferTarget, NotYourAgent, PbxUnavailable
from dialer.gate import DialGate, DialRequest, GateDecision
from dialer.models import Call, CallLeg, CallTransfer
from dialer.pbx import PBX_SIP_USER, PbxGateway
from dialer.presented import number_for_call
from dialer.states import CallState
from dialer.transfer import (
    TERMINAL,
    TransferFacts,
    TransferMode,
    TransferState,
    derive_transfer,
    leg_facts,
    talk_seconds,
)
from dialer.translate import LegUpdate

log = logging.getLogger(__name__)
TargetCheck = Callable[[AsyncSession, str], Awaitable[None]]
LegListener = Callable[[AsyncSession, Call, CallLeg, str], Awaitable[None]]
"""``listener(session, call, leg, step)``, step ``ringing`` | ``answered`` | ``ended``, in the leg's transaction."""

TRANSFER_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION)
SEE_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.INTEGRATION, Role.QA)
TARGET_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value)
OUTSIDE = "outside"  # a transfer's target_role and its leg's role when the target is an outside number
_LEG_TIMES = ("ringing_at", "answered_at", "ended_at")
_TRANSFER_TIMES = ("consulting_at", "completed_at", "cancelled_at", "failed_at")
_EVENT_OF = {
    TransferState.REQUESTED: ev.CALL_TRANSFER_REQUESTED, TransferState.CONSULTING: ev.CALL_TRANSFER_CONSULTING,
    TransferState.COMPLETED: ev.CALL_TRANSFER_COMPLETED, TransferState.CANCELLED: ev.CALL_TRANSFER_CANCELLED,
    TransferState.FAILED: ev.CALL_TRANSFER_FAILED,
}


def transfer_facts(t: CallTransfer) -> TransferFacts:
    """The facts stored on a transfer row."""
    return TransferFacts(requested_at=t.requested_at, **{k: getattr(t, k) for k in _TRANSFER_TIMES})


def transfer_payload(t: CallTransfer) -> dict[str, Any]:
    """The transfer part of a transfer event's payload (ids only)."""
    return {"id": t.id, "seq": t.seq, "mode": t.mode, "state": t.state, "from_agent": t.from_agent,
            "target": t.target_id, "target_role": t.target_role, "decision_id": t.decision_id, "failure": t.failure,
            "requested_at": iso_or_none(t.requested_at)}


def _merge_leg(leg: CallLeg, facts: dict[str, Any]) -> bool:
    """Facts into a leg: times keep the earliest, others the first seen. True when something changed."""
    changed = False
    for name, value in facts.items():
        if value is None or name == "dial_status":
            continue
        old = getattr(leg, name)
        if old is None or (name in _LEG_TIMES and value < old):
            setattr(leg, name, value)
            changed = True
    leg.talk_seconds = talk_seconds(leg.answered_at, leg.ended_at)
    return changed


class TransferService:
    """Requests transfers and keeps transfers and legs from PBX facts."""

    def __init__(self, *, db: Database, events: EventLog, pbx: PbxGateway, clock: Clock, gate: DialGate,
                 default_region: str) -> None:
        self.db, self.events, self.pbx, self.clock = db, events, pbx, clock
        self.gate, self.default_region = gate, default_region
        self._target_checks: list[TargetCheck] = []
        self._leg_listeners: list[LegListener] = []

    def add_target_check(self, check: TargetCheck) -> None:
        """``check(session, user_id)`` raises when the target may not take a call now (presence hooks in)."""
        self._target_checks.append(check)

    def add_leg_listener(self, listener: LegListener) -> None:
        """Tell ``listener`` when a leg starts ringing, is answered or ends (presence hooks in: the people on a
        transferred call are on a call, the agent who left it is in wrap-up)."""
        self._leg_listeners.append(listener)

    # -- requesting -----------------------------------------------------------------------------
    async def request(self, principal: Principal, call_id: str, *, target: str | None = None,
                      number: str | None = None, mode: TransferMode = TransferMode.BLIND) -> CallTransfer:
        """Record the transfer (and the call's first leg) in one transaction, then send it to the PBX.

        ``target`` is a user id; ``number`` an outside number (a dial: the gate decides it first). Exactly one.
        """
        principal.require(*TRANSFER_ROLES)
        if (target is None) == (number is None):
            raise ValueError("a transfer names exactly one of target or number")
        if number is not None:
            return await self._request_number(principal, call_id, number, mode)
        assert target is not None
        now = self.clock.now()
        async with self.db.begin() as s:
            call, legs, transfers, holder = await self._transferable(s, principal, call_id)
            user = await self._target(s, call, target)
            if user.id == holder[0]:
                raise CallNotTransferable(f"{target} already has the customer", details={
                    "call_id": call_id, "reason": "the target already has the customer"})
            for check in self._target_checks:
                await check(s, user.id)
            transfer = self._add_transfer(s, principal, call, legs=legs, transfers=transfers, holder=holder,
                                          mode=mode, now=now, target_id=user.id, target_role=user.role,
                                          leg_user=user.id, leg_sip=user.sip_user or "")
            await self._record(s, call, transfer)
            back_sip = await self._back_sip(s, call, holder)
            target_sip, channel, customer = user.sip_user or "", holder[1] or "", call.customer_channel or ""
        try:
            if mode is TransferMode.BLIND:
                await self.pbx.blind_transfer(
                    call.pbx, agent_channel=channel, customer_channel=customer, target=target_sip,
                    transfer_id=transfer.id, seq=transfer.seq, target_leg=transfer.target_leg_id, back=back_sip,
                    back_leg=transfer.back_leg_id)
            else:
                await self.pbx.attended_transfer(
                    call.pbx, agent_channel=channel, customer_channel=customer, target=target_sip,
                    transfer_id=transfer.id, seq=transfer.seq, target_leg=transfer.target_leg_id)
        except PbxUnavailable:
            await self._fail(transfer.id, "pbx-unavailable")
            raise
        return transfer

    async def _request_number(self, principal: Principal, call_id: str, number: str,
                              mode: TransferMode) -> CallTransfer:
        """A transfer to an outside number: normalised, gated for the call's case as a dial by ``principal``
        (logged either way), then dialled through the customer trunk presenting the client's number."""
        e164 = normalize(number, self.default_region)
        now = self.clock.now()
        blocked = None
        async with self.db.begin() as s:
            call, legs, transfers, holder = await self._transferable(s, principal, call_id)
            if call.case_id is None:
                raise CallNotTransferable("only a call with a case may be transferred to a number", details={
                    "call_id": call_id, "reason": "the call has no case to dial the number for"})
            decision = await self.gate.check(s, DialRequest(
                call_id=call.id, agent_id=holder[0], team=call.team, number=e164, case_id=call.case_id,
                principal=principal, now=now))
            if not decision.allowed:
                blocked = decision.error
            else:
                transfer = self._add_transfer(s, principal, call, legs=legs, transfers=transfers, holder=holder,
                                              mode=mode, now=now, target_id=e164, target_role=OUTSIDE,
                                              leg_user=None, leg_sip="", number=e164, dial=decision)
                await self._record(s, call, transfer)
                back_sip = await self._back_sip(s, call, holder)
                presented = call.presented_number or await number_for_call(s, call.client_id)
                channel, customer = holder[1] or "", call.customer_channel or ""
        if blocked is not None:  # committed: the decision and call.blocked; nothing else changed
            raise blocked
        try:
            if mode is TransferMode.BLIND:
                await self.pbx.blind_transfer_out(
                    call.pbx, agent_channel=channel, customer_channel=customer, number=e164, presented=presented,
                    transfer_id=transfer.id, seq=transfer.seq, target_leg=transfer.target_leg_id, back=back_sip,
                    back_leg=transfer.back_leg_id)
            else:
                await self.pbx.attended_transfer_out(
                    call.pbx, agent_channel=channel, customer_channel=customer, number=e164, presented=presented,
                    transfer_id=transfer.id, seq=transfer.seq, target_leg=transfer.target_leg_id)
        except PbxUnavailable:
            await self._fail(transfer.id, "pbx-unavailable")
            raise
        return transfer

    async def _transferable(self, s: AsyncSession, principal: Principal, call_id: str) -> tuple[
            Call, list[CallLeg], list[CallTransfer], tuple[str, str | None]]:
        """The call (locked), its legs and transfers, and who has its customer, once it may be transferred."""
        call = await self._call_for_update(s, principal, call_id)
        legs = list((await s.scalars(select(CallLeg).where(CallLeg.call_id == call_id)
                                     .order_by(CallLeg.seq))).all())
        transfers = list((await s.scalars(select(CallTransfer).where(CallTransfer.call_id == call_id))).all())
        holder = self._holder(call, legs)
        self._check_transferable(principal, call, transfers, holder)
        if any(leg.role == OUTSIDE and leg.answered_at is not None and leg.ended_at is None for leg in legs):
            raise CallNotTransferable(f"call {call.id} cannot be transferred: the customer is with an outside "
                                      "party", details={"call_id": call.id, "reason": "the customer is with an "
                                                        "outside party"})
        return call, legs, transfers, holder

    def _add_transfer(self, s: AsyncSession, principal: Principal, call: Call, *, legs: list[CallLeg],
                      transfers: list[CallTransfer], holder: tuple[str, str | None], mode: TransferMode,
                      now: datetime, target_id: str, target_role: str, leg_user: str | None, leg_sip: str,
                      number: str | None = None, dial: GateDecision | None = None) -> CallTransfer:
        """The transfer's rows: the call's first leg (when it has none yet), the transfer, its target's leg.

        ``dial`` is the gate's decision for a transfer to ``number``: its leg is a dial, which the gate's ledger
        counts for later dials (compliance.ledger_sql) from this transaction on, as it counts a dial's call.
        """
        if not legs:
            first = CallLeg(id=new_id(), call_id=call.id, seq=1, role="agent", user_id=call.agent_id,
                            sip_user=call.sip_user, client_id=call.client_id, team=call.team,
                            channel=call.agent_channel, answered_at=call.answered_at)
            s.add(first)
            legs.append(first)
        seq = len(transfers) + 1
        transfer = CallTransfer(
            id=new_id(), call_id=call.id, seq=seq, mode=mode.value, state=TransferState.REQUESTED.value,
            from_agent=holder[0], target_id=target_id, target_role=target_role, requested_by=principal.user_id,
            target_leg_id=new_id(), back_leg_id=new_id(), requested_at=now)
        s.add(transfer)
        leg = CallLeg(id=transfer.target_leg_id, call_id=call.id, seq=len(legs) + 1,
                      role=OUTSIDE if number is not None else "target", user_id=leg_user, number=number,
                      sip_user=leg_sip, client_id=call.client_id, team=call.team, transfer_id=transfer.id)
        if dial is not None:
            transfer.decision_id = dial.decision_id
            leg.created_at, leg.case_id, leg.debtor_key, leg.number_kind = \
                now, call.case_id, dial.debtor_key, dial.number_kind
        s.add(leg)
        # the recording's segments (recordings/ingest.py joins <id>-s1..sN after the agent's part)
        call.facts = {**(call.facts or {}), "segments": seq}
        return transfer

    async def _back_sip(self, s: AsyncSession, call: Call, holder: tuple[str, str | None]) -> str:
        """The SIP user the customer rings back to when the target does not answer: whoever had it."""
        holder_user = await s.get(User, holder[0])
        return holder_user.sip_user if holder_user is not None and holder_user.sip_user else call.sip_user

    async def complete(self, principal: Principal, call_id: str) -> CallTransfer:
        """An attended transfer whose target answered (``consulting``): the customer joins the target, the
        agent's consult leg ends."""
        principal.require(*TRANSFER_ROLES)
        async with self.db.begin() as s:
            call, t, target = await self._attended(s, principal, call_id, (TransferState.CONSULTING,))
            if target.channel is None or call.customer_channel is None:
                raise CallNotTransferable("the PBX has not named the target's channel yet", details={
                    "call_id": call_id, "reason": "the target's channel is not known yet"})
            agent_channel = await self._from_channel(s, call, t)
            pbx, customer, target_channel, transfer_id = call.pbx, call.customer_channel, target.channel, t.id
        await self.pbx.complete_transfer(pbx, agent_channel=agent_channel, customer_channel=customer,
                                         target_channel=target_channel)
        async with self.db.begin() as s:
            t = (await s.execute(self.db.for_update(
                select(CallTransfer).where(CallTransfer.id == transfer_id)))).scalar_one()
            await self._set(s, t, completed_at=self.clock.now())
        return t

    async def cancel(self, principal: Principal, call_id: str) -> CallTransfer:
        """An attended transfer still ringing or consulting: the target's leg is hung up and the agent has the
        customer again (the consult context bridges them back)."""
        principal.require(*TRANSFER_ROLES)
        async with self.db.begin() as s:
            call, t, target = await self._attended(s, principal, call_id,
                                                   (TransferState.REQUESTED, TransferState.CONSULTING))
            await self._set(s, t, cancelled_at=self.clock.now())
            pbx, channel = call.pbx, target.channel if target.ended_at is None else None
        if channel is not None:  # not rung yet: its ring times out and the customer comes back all the same
            await self.pbx.hangup(pbx, channel)
        return t

    async def _attended(self, s: AsyncSession, principal: Principal, call_id: str,
                        states: tuple[TransferState, ...]) -> tuple[Call, CallTransfer, CallLeg]:
        call = await self._call_for_update(s, principal, call_id)
        t = (await s.execute(self.db.for_update(select(CallTransfer).where(
            CallTransfer.call_id == call_id).order_by(CallTransfer.seq.desc()).limit(1)))).scalar()
        if t is None or t.mode != TransferMode.ATTENDED.value or TransferState(t.state) not in states:
            raise CallNotTransferable(f"call {call_id} has no attended transfer to act on", details={
                "call_id": call_id, "reason": "no attended transfer " + " or ".join(x.value for x in states)})
        if principal.role is Role.AGENT and principal.user_id != t.from_agent:
            raise NotYourAgent("only the agent who asked for the transfer may complete or cancel it",
                               details={"agent": principal.user_id})
        target = await s.get(CallLeg, t.target_leg_id)
        assert target is not None
        return call, t, target

    async def _from_channel(self, s: AsyncSession, call: Call, t: CallTransfer) -> str:
        """The channel of whoever had the customer when ``t`` was asked (the legs before its target's)."""
        target = await s.get(CallLeg, t.target_leg_id)
        before = (await s.scalars(select(CallLeg).where(
            CallLeg.call_id == call.id, CallLeg.seq < (target.seq if target is not None else 0))
            .order_by(CallLeg.seq))).all()
        return self._holder(call, list(before))[1] or ""

    async def _set(self, s: AsyncSession, t: CallTransfer, **facts: Any) -> None:
        """New transfer facts (first value kept); the step's event when the state changes."""
        before = transfer_facts(t)
        after = replace(before, **{k: v for k, v in facts.items() if getattr(before, k) is None})
        for k in _TRANSFER_TIMES:
            setattr(t, k, getattr(after, k))
        state = derive_transfer(after)
        if state.value != t.state:
            t.state = state.value
            if state is TransferState.FAILED and t.failure is None:
                t.failure = "target-not-answered"
            call = await s.get(Call, t.call_id)
            if call is not None:
                await self._record(s, call, t)
        for leg_id in (t.target_leg_id,):
            leg = await s.get(CallLeg, leg_id)
            if leg is not None:
                leg.talk_seconds = _leg_talk(leg, t)

    def _holder(self, call: Call, legs: list[CallLeg]) -> tuple[str, str | None]:
        """Who has the customer now, and their channel: the latest answered leg still up, else the call's agent."""
        for leg in reversed(legs):
            if leg.answered_at is not None and leg.ended_at is None and leg.role in ("target", "back") \
                    and leg.user_id is not None:
                return leg.user_id, leg.channel
        return call.agent_id, call.agent_channel

    def _check_transferable(self, principal: Principal, call: Call, transfers: list[CallTransfer],
                            holder: tuple[str, str | None]) -> None:
        def refuse(reason: str) -> CallNotTransferable:
            return CallNotTransferable(f"call {call.id} cannot be transferred: {reason}",
                                       details={"call_id": call.id, "reason": reason})

        if principal.role is Role.AGENT and principal.user_id != holder[0]:
            raise NotYourAgent("an agent may transfer only the customer it is talking to",
                               details={"agent": principal.user_id})
        if call.state != CallState.ANSWERED.value:
            raise refuse("the customer is not on the line" if call.state != CallState.ENDED.value
                         else "the call has ended")
        if any(TransferState(t.state) not in TERMINAL for t in transfers):
            raise refuse("another transfer is under way")
        if holder[1] is None or call.customer_channel is None:
            raise refuse("the PBX has not named the call's channels yet")

    async def _target(self, s: AsyncSession, call: Call, target: str) -> User:
        """The target inside the call's walls: an active agent of the call's team, or a supervisor of that
        team (or of every team) of the call's client, with a phone the dial plan can ring."""
        user = await s.get(User, target)
        ok = (user is not None and user.active and user.role in TARGET_ROLES and user.sip_user is not None
              and PBX_SIP_USER.fullmatch(user.sip_user) is not None and call.client_id is not None
              and call.client_id in (user.clients or ())
              and (user.team == call.team if user.role == Role.AGENT.value else user.team in (None, call.team)))
        if not ok:
            raise NoSuchTransferTarget(f"no agent or supervisor {target!r} to transfer this call to",
                                       details={"target": target})
        assert user is not None
        return user

    # -- PBX facts ------------------------------------------------------------------------------
    async def apply_leg(self, update: LegUpdate) -> None:
        """Merge one PBX event's leg facts; a target leg's answer completes its transfer, its end without an
        answer fails it (the dial plan then rings the agent back: the ``back`` leg)."""
        async with self.db.begin() as s:
            leg = await self._leg_for_update(s, update)
            if leg is None:
                return
            before = {step: getattr(leg, f"{step}_at") for step in ("ringing", "answered", "ended")}
            _merge_leg(leg, update.facts)
            steps = [step for step, at in before.items() if at is None and getattr(leg, f"{step}_at") is not None]
            if leg.role in ("target", OUTSIDE) and leg.transfer_id is not None:
                await self._follow_transfer(s, leg, update)
            # after the transfer's own update: a listener sees the leg's final talk time (attended: from completion)
            if steps and self._leg_listeners:
                call = await s.get(Call, leg.call_id)
                for step in steps:
                    for listener in self._leg_listeners:
                        if call is not None:
                            await listener(s, call, leg, step)

    async def _follow_transfer(self, s: AsyncSession, leg: CallLeg, update: LegUpdate) -> None:
        """A target leg's facts move its transfer (answered: completed; ended unanswered: failed)."""
        t = (await s.execute(self.db.for_update(
            select(CallTransfer).where(CallTransfer.id == leg.transfer_id)))).scalar()
        if t is None:
            return
        if update.facts.get("dial_status"):
            t.dial_status = t.dial_status or update.facts["dial_status"]
        await self._set(s, t, **leg_facts(answered_at=leg.answered_at, ended_at=leg.ended_at,
                                          dial_status=t.dial_status, at=self.clock.now(),
                                          mode=TransferMode(t.mode)))

    async def _leg_for_update(self, s: AsyncSession, update: LegUpdate) -> CallLeg | None:
        if update.leg_id is None:  # the call's own agent leaving after a transfer
            q = select(CallLeg).where(CallLeg.call_id == update.call_id, CallLeg.role == "agent")
            return (await s.execute(self.db.for_update(q))).scalar()
        leg = (await s.execute(self.db.for_update(select(CallLeg).where(CallLeg.id == update.leg_id)))).scalar()
        if leg is not None or update.leg_id is None:
            return leg
        t = (await s.execute(select(CallTransfer).where(CallTransfer.back_leg_id == update.leg_id,
                                                        CallTransfer.call_id == update.call_id))).scalar()
        if t is None:
            return None
        back = await s.get(User, t.from_agent)
        seq = (await s.scalar(select(func.max(CallLeg.seq)).where(CallLeg.call_id == t.call_id))) or 0
        call = await s.get(Call, t.call_id)
        leg = CallLeg(id=update.leg_id, call_id=t.call_id, seq=seq + 1, role="back", user_id=t.from_agent,
                      sip_user=back.sip_user or "" if back is not None else "", transfer_id=t.id,
                      client_id=call.client_id if call else None, team=call.team if call else None)
        s.add(leg)
        return leg

    async def _fail(self, transfer_id: str, failure: str) -> None:
        async with self.db.begin() as s:
            t = (await s.execute(self.db.for_update(
                select(CallTransfer).where(CallTransfer.id == transfer_id)))).scalar_one()
            if TransferState(t.state) in TERMINAL:
                return
            t.failed_at, t.failure, t.state = self.clock.now(), failure, TransferState.FAILED.value
            leg = await s.get(CallLeg, t.target_leg_id)
            if leg is not None and leg.ended_at is None:  # never dialled: no attempt for the gate's ledger
                leg.ended_at = t.failed_at
            call = await s.get(Call, t.call_id)
            if call is not None:
                await self._record(s, call, t)

    # -- reading --------------------------------------------------------------------------------
    async def legs(self, principal: Principal, call_id: str) -> tuple[list[CallLeg], list[CallTransfer]]:
        """A visible call's legs and transfers, in order."""
        principal.require(*SEE_ROLES)
        async with self.db.read() as s:
            call = await s.get(Call, call_id)
            _check_visible(principal, call, call_id)
            legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call_id).order_by(CallLeg.seq))).all()
            transfers = (await s.scalars(select(CallTransfer).where(CallTransfer.call_id == call_id)
                                         .order_by(CallTransfer.seq))).all()
            return list(legs), list(transfers)

    # -- helpers --------------------------------------------------------------------------------
    async def _call_for_update(self, s: AsyncSession, principal: Principal, call_id: str) -> Call:
        call = (await s.execute(self.db.for_update(select(Call).where(Call.id == call_id)))).scalar()
        _check_visible(principal, call, call_id)
        assert call is not None
        return call

    async def _record(self, s: AsyncSession, call: Call, t: CallTransfer) -> None:
        await self.events.record(s, DomainEvent(
            type=_EVENT_OF[TransferState(t.state)], payload={**ev.call_payload(call), "transfer": transfer_payload(t)},
            call_id=call.id, case_id=call.case_id, agent_id=call.agent_id, client_id=call.client_id,
            team=call.team, occurred_at=self.clock.now()))


def _leg_talk(leg: CallLeg, t: CallTransfer) -> float | None:
    """A target leg's talk time with the customer: from its answer (blind), from the completion (attended: the
    consultation is not talk with the customer; a cancelled consultation has none)."""
    if t.mode == TransferMode.ATTENDED.value:
        return talk_seconds(t.completed_at, leg.ended_at) if t.completed_at is not None else None
    return talk_seconds(leg.answered_at, leg.ended_at)


def _check_visible(principal: Principal, call: Call | None, call_id: str) -> None:
    """Another client's, team's or agent's call answers exactly like a missing one (as ``CallService``)."""
    if call is None or not principal.is_any(SEE_ROLES) or not Scope.of(principal).sees_call(
            client_id=call.client_id, team=call.team, agent_id=call.agent_id, requested_by=call.requested_by,
            me=principal.user_id):
        raise NoSuchCall(f"no call {call_id}", details={"call_id": call_id})
