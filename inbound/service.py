"""Debtors calling back: a customer's call to a presented number becomes an inbound call of the client
owning that number, routed to the case's agent, its team, or the message (``routing.py``).

The hand-off (docs/PBX.md "Inbound calls"): the dial plan parks the caller in ``callguard-inbound`` (ringing)
and announces it with ``UserEvent(CallguardInbound)``; the service decides in one unit of work (the call row,
``call.inbound_received``, ``call.inbound_routed``) and answers with one ``Setvar CALLGUARD_ROUTE``. No answer
in time (the service slow or down) and the dial plan plays the message by itself and leaves the attempt in the
PBX's database (``callguard_inbound`` family), which ``recover`` logs when the service is back. A call that
ends unanswered leaves a callback (``callback.scheduled``) for the case's agent, or the team. The
calling-hours gate is not asked: it limits calls to debtors, not calls from them; the callback is gated when
it is dialled, like any dial.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import DialerSettings, PbxSettings
from core.clock import Clock
from core.errors import CallguardError
from core.events import DomainEvent, EventLog
from core.phone import normalize
from db.base import new_id
from db.engine import Database
from dialer.errors import PbxUnavailable
from dialer.models import Call
from dialer.pbx import PbxGateway
from dialer.service import facts_of, store
from dialer.states import CallState, derive
from dialer.translate import InboundOffer
from inbound import events as ev
from inbound.routing import Route, RouteKind, RouteReason, owner_of, route
from inbound.routing_sql import agents_serving, cases_with_number, owners

log = logging.getLogger(__name__)
INBOUND = "inbound"
REQUESTED_BY = "inbound"  # the call was not requested by a user
MISSED_FAMILY = "callguard_inbound"  # astdb family the dial plan writes an unrouted caller to
_MISSED_VALUE = re.compile(
    r"^(?P<epoch>[0-9]{1,12})(\.[0-9]{1,6})?/(?P<caller>\+?[0-9]{0,20})/(?P<dialled>\+?[0-9]{1,20})$")
_MISSED_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class MissedCallScheduler(Protocol):
    """Leaves a callback for a missed inbound call (callbacks' ``schedule_missed_call``), in its transaction."""

    def __call__(self, session: AsyncSession, *, call: Call, agent_id: str | None, team: str | None,
                 number: str | None) -> Awaitable[None]: ...


class InboundService:
    """Receives callers from the PBX, decides their route, logs them, and leaves callbacks for missed ones."""

    def __init__(self, *, db: Database, events: EventLog, pbx: PbxGateway, clock: Clock, settings: DialerSettings,
                 pbx_settings: list[PbxSettings], schedule_callback: MissedCallScheduler | None = None) -> None:
        self.db, self.events, self.pbx, self.clock, self.settings = db, events, pbx, clock, settings
        self.ring_s = {p.name: p.agent_ring_timeout_s for p in pbx_settings}
        self.schedule_callback = schedule_callback

    async def offer(self, pbx: str, offer: InboundOffer) -> Call | None:
        """A caller waits in the dial plan: log the call, decide, send the route. None when already taken
        (another instance, or the same event twice)."""
        call, decision = await self._log(pbx, offer, routed=True)
        if call is None or decision is None:
            return None
        route_text = f"{call.id}:{RouteKind.MESSAGE.value}"
        if decision.kind is RouteKind.AGENT and decision.agent is not None:
            route_text = f"{call.id}:agent:{decision.agent.sip_user}:{self.ring_s.get(pbx, 20)}"
        try:
            await self.pbx.route_inbound(pbx, offer.channel, route_text)
        except (PbxUnavailable, ValueError) as exc:
            # the dial plan times out to the message; the call then ends unanswered and leaves its callback
            log.warning("inbound call %s: route not sent (%s); the caller hears the message", call.id, exc)
        return call

    async def recover(self, pbx: str) -> int:
        """After (re)connecting: log the callers the dial plan sent to the message because no route came (the
        service was down or slow). Each is logged once (keyed by its channel's Uniqueid). Returns how many."""
        try:
            entries = await self.pbx.db_tree(pbx, MISSED_FAMILY)
        except PbxUnavailable as exc:
            log.info("PBX %s: missed inbound callers not read: %s", pbx, exc)
            return 0
        logged = 0
        for key, value in entries.items():
            uniqueid = key.rsplit("/", 1)[-1]
            m = _MISSED_VALUE.match(value)
            if m is None or not _MISSED_KEY.match(uniqueid):
                log.warning("PBX %s: ignored a %s entry that is not ours", pbx, MISSED_FAMILY)
                continue
            at = datetime.fromtimestamp(int(m["epoch"]), UTC)
            offer = InboundOffer(channel="", uniqueid=uniqueid, caller=m["caller"], dialled=m["dialled"], at=at)
            call, _ = await self._log(pbx, offer, routed=False)
            logged += call is not None
        return logged

    async def on_call_state(self, session: AsyncSession, call: Call, state: CallState) -> None:
        """An inbound call that ends unanswered leaves a callback (once) for its case's agent, or the team."""
        if state is not CallState.ENDED or call.direction != INBOUND or call.answered_at is not None:
            return
        facts = call.facts or {}
        if facts.get("callback_left") or self.schedule_callback is None or call.client_id is None:
            return
        if call.case_id is None and not call.number:
            return  # a withheld number and no case: nobody to call back
        call.facts = {**facts, "callback_left": True}
        await self.schedule_callback(session, call=call, agent_id=facts.get("callback_agent"),
                                     team=facts.get("callback_team"), number=call.number or None)

    # -- helpers --------------------------------------------------------------------------------
    def _caller(self, raw: str) -> str:
        """The caller as E.164 when it is a valid number, else the digits as sent ("" when withheld)."""
        if not raw:
            return ""
        try:
            return normalize(raw, self.settings.default_region)
        except CallguardError:
            return raw[:20]

    async def _log(self, pbx: str, offer: InboundOffer, *, routed: bool) -> tuple[Call | None, Route | None]:
        """One unit of work: the call row, its decision, its events. ``routed`` False: the dial plan already
        played the message (recovery), the call is logged as ended."""
        now = self.clock.now()
        caller = self._caller(offer.caller)
        async with self.db.begin() as s:
            taken = await s.scalar(select(Call.id).where(Call.customer_uniqueid == offer.uniqueid,
                                                         Call.direction == INBOUND).limit(1))
            if taken is not None:
                return None, None
            client = owner_of(await owners(s, offer.dialled))
            matches = await cases_with_number(s, client, caller) if client and caller else []
            agents = await agents_serving(s, client, now) if client else []
            decision = route(client, matches, agents)
            if not routed:  # nobody was rung: the caller heard the message
                decision = replace(decision, kind=RouteKind.MESSAGE, reason=RouteReason.UNROUTED, agent=None)
            call = _call_row(pbx, offer, caller, decision, now)
            facts = facts_of(call)
            if decision.kind is RouteKind.MESSAGE:
                facts = facts.merge(message_at=offer.at if not routed else now)
            if not routed:
                facts = facts.merge(ended_at=offer.at)
            status = derive(facts)
            store(call, facts, status)
            s.add(call)
            await s.flush()
            await self._record(s, ev.CALL_INBOUND_RECEIVED, call, ev.received_payload(call))
            await self._record(s, ev.CALL_INBOUND_ROUTED, call, ev.routed_payload(call, decision))
            if not routed:
                await self.on_call_state(s, call, CallState.ENDED)
        log.info("inbound call %s to a number of %s: %s (%s)", call.id, client or "no client", decision.kind,
                 decision.reason)
        return call, decision

    async def _record(self, s: AsyncSession, type_: str, call: Call, payload: dict[str, object]) -> None:
        await self.events.record(s, DomainEvent(
            type=type_, payload=payload, call_id=call.id, case_id=call.case_id, agent_id=call.agent_id or None,
            client_id=call.client_id, team=call.team, occurred_at=self.clock.now()))


def _call_row(pbx: str, offer: InboundOffer, caller: str, decision: Route, now: datetime) -> Call:
    """The call row of an inbound call: direction inbound, the dialled presented number, the matched case."""
    case, agent = decision.case, decision.agent
    return Call(
        id=new_id(), direction=INBOUND, agent_id=agent.agent_id if agent else (decision.callback_agent or ""),
        team=agent.team if agent else decision.callback_team, requested_by=REQUESTED_BY, number=caller,
        number_kind=case.number_kind if case else None, case_id=case.case_id if case else None,
        client_id=decision.client_id, batch_id=case.batch_id if case else None,
        debtor_key=case.debtor_key if case else None, pbx=pbx, sip_user=agent.sip_user if agent else "",
        presented_number=offer.dialled[:16], customer_channel=offer.channel or None,
        customer_uniqueid=offer.uniqueid, state=CallState.REQUESTED.value, created_at=min(offer.at, now),
        facts={"route": decision.kind.value, "route_reason": decision.reason.value,
               "callback_agent": decision.callback_agent, "callback_team": decision.callback_team})
