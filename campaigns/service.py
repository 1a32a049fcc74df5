"""Campaigns: a client's cases, offered one at a time to the agents who joined (preview), or offered and
dialled after a short preview when an agent is available (progressive).

The next case for an agent is picked from an index (``ix_campaign_entries_next``), never a scan: the
agent's due callbacks first, then cases nearest their first-call deadline (received + 2 days, never called),
then the client's priority (days overdue). Before a case is offered, the number to try is picked
(``campaigns.numbers``) and the compliance gate is asked (a dry run, logged, never counted): a case the gate
blocks now is not offered and waits for the decision's ``next_allowed_at`` (a hard stop leaves it blocked).
An offer is a claim with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), so
no case is offered to two agents at once, and an agent holds one offer at a time. The agent then dials it
with ``POST /v1/calls`` (the gate runs again, as for every dial); the call's end updates the entry.

Progressive campaigns run the same offer from ``tick`` (every ``campaigns.tick_s`` on every instance) for
each joined agent who is ``available`` and holds nothing: the offer's ``next_at`` is its dial time (offer +
``campaigns.progressive_preview_s``). When it comes, the instance whose UPDATE moves the entry from
``offered`` to ``dialling`` places the call through ``CallService.request_call`` in the agent's name: the
same call path, the presence check and the gate as a click-to-dial, the agent's leg first. One call per
available agent, so no call is ever abandoned; a paused agent gets no further call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role, User
from auth.scope import Scope
from auth.service import Principal
from callbacks.models import Callback, handed_clause
from campaigns import events as ev
from campaigns.errors import CampaignNotRunning, NoOffer, NoSuchCampaign
from campaigns.models import Campaign, CampaignAgent, CampaignEntry
from campaigns.numbers import Attempt, Number, pick_number
from cases.errors import NoSuchClient
from cases.models import Case, CaseContact
from clients.models import ClientSettings, pooled_clause
from config.settings import CampaignSettings
from core.clock import Clock
from core.errors import CallguardError
from core.events import DomainEvent, EventLog
from db.base import new_id
from db.engine import Database
from dialer.gate import DialGate, DialRequest
from dialer.models import Call
from dialer.service import CallService
from dialer.states import CallState
from presence.errors import AgentNotAvailable
from presence.models import AgentPresence
from presence.service import PresenceService
from presence.states import NOT_DIALLABLE, Presence

MANAGERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
READERS = (Role.AGENT, *MANAGERS)
WORKERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
FIRST_CALL_WITHIN = timedelta(days=2)
OFFER_LEASE = timedelta(minutes=5)
CANDIDATES = 20
TRANSITIONS = {"start": ({"draft", "paused"}, "running"), "pause": ({"running"}, "paused"),
               "stop": ({"draft", "running", "paused"}, "stopped")}
Action = Literal["start", "pause", "stop"]
Mode = Literal["preview", "progressive"]
HELD = ("offered", "dialling")


@dataclass(frozen=True, slots=True)
class Offer:
    """The case offered to an agent: the entry, the number to dial, and why it is next."""

    entry: CampaignEntry
    number: str
    number_kind: str
    reason: str  # callback | first_call | priority
    callback_id: str | None = None


class CampaignService:
    """Campaigns (see the module docstring)."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, gate: DialGate,
                 presence: PresenceService, calls: CallService, settings: CampaignSettings) -> None:
        self.db, self.events, self.clock, self.gate, self.presence = db, events, clock, gate, presence
        self.calls, self.settings = calls, settings

    # -- administration -------------------------------------------------------------------------
    async def create(self, principal: Principal, *, client_id: str, name: str, mode: Mode = "preview",
                     batch_id: str | None = None,
                     statuses: tuple[str, ...] = ("active",), agent: str | None = None,
                     busy_retry_s: int = 600, no_answer_retry_s: int = 3600) -> Campaign:
        """A campaign over the client's cases matching the selection (inside the caller's scope)."""
        principal.require(*MANAGERS)
        scope = Scope.of(principal)
        if not scope.sees_client(client_id):
            raise NoSuchClient(f"no client {client_id}", details={"client_id": client_id})
        now = self.clock.now()
        selection = {"batch_id": batch_id, "statuses": list(statuses), "agent": agent}
        campaign = Campaign(id=new_id(), client_id=client_id, name=name, mode=mode, state="draft",
                            selection=selection, busy_retry_s=busy_retry_s, no_answer_retry_s=no_answer_retry_s,
                            created_by=principal.user_id, created_at=now, updated_at=now)
        called = exists().where(Call.case_id == Case.id)
        q = select(Case.id, Case.team, Case.days_overdue, Case.received_at, Case.created_at, called,
                   Case.assigned_agent).where(
            Case.client_id == client_id, Case.status.in_(statuses),
            scope.case_clause(Case.client_id, Case.team, Case.assigned_agent, pooled_clause(Case.client_id)))
        if batch_id is not None:
            q = q.where(Case.batch_id == batch_id)
        if agent is not None:
            q = q.where(Case.assigned_agent == agent)
        async with self.db.begin() as s:
            s.add(campaign)
            await s.flush()
            rows = (await s.execute(q)).all()
            entries = [{"id": new_id(), "campaign_id": campaign.id, "case_id": r[0], "client_id": client_id,
                        "team": r[1], "assigned_agent": r[6], "state": "pending", "next_at": now,
                        "priority": -(r[2] or 0), "attempts": 0, "tier": 1 if r[5] else 0,
                        "first_call_by": None if r[5] else (r[3] or r[4]) + FIRST_CALL_WITHIN, "updated_at": now}
                       for r in rows]
            for i in range(0, len(entries), 1000):
                await s.execute(insert(CampaignEntry), entries[i:i + 1000])
            await self._event(s, campaign)
        return campaign

    async def change(self, principal: Principal, campaign_id: str, action: Action) -> Campaign:
        """Start, pause or stop (supervisors, managers, admins of its client)."""
        principal.require(*MANAGERS)
        allowed_from, to = TRANSITIONS[action]
        async with self.db.begin() as s:
            campaign = await self._visible(s, principal, campaign_id, lock=True)
            if campaign.state not in allowed_from:
                raise CampaignNotRunning(f"a {campaign.state} campaign cannot {action}",
                                         details={"state": campaign.state, "action": action})
            campaign.state, campaign.updated_at = to, self.clock.now()
            await self._event(s, campaign)
        return campaign

    async def join(self, principal: Principal, campaign_id: str, agent_id: str, *, joined: bool = True) -> None:
        """An agent joins (or leaves) a campaign: itself, or by its supervisor or an admin."""
        principal.require(*WORKERS)
        await self.presence.get(principal, agent_id)  # 404 for an agent the caller may not see
        async with self.db.begin() as s:
            campaign = await self._visible(s, principal, campaign_id)
            row = await s.get(CampaignAgent, (campaign_id, agent_id))
            if joined and row is None:
                if campaign.state == "stopped":
                    raise CampaignNotRunning("a stopped campaign cannot be joined", details={"state": "stopped"})
                s.add(CampaignAgent(campaign_id=campaign_id, agent_id=agent_id, joined_at=self.clock.now()))
            elif not joined and row is not None:
                await s.delete(row)
                await self._release(s, agent_id, campaign_id)

    async def get(self, principal: Principal, campaign_id: str) -> tuple[Campaign, dict[str, Any]]:
        """A campaign and its progress: cases left, attempted, contacted, blocked, the next scheduled time."""
        principal.require(*READERS)
        now = self.clock.now()
        async with self.db.read() as s:
            campaign = await self._visible(s, principal, campaign_id)
            counts = dict((await s.execute(select(CampaignEntry.state, func.count()).where(
                CampaignEntry.campaign_id == campaign_id).group_by(CampaignEntry.state))).all())
            attempted = await s.scalar(select(func.count()).where(CampaignEntry.campaign_id == campaign_id,
                                                                  CampaignEntry.attempts > 0))
            upcoming = await s.scalar(select(func.min(CampaignEntry.next_at)).where(
                CampaignEntry.campaign_id == campaign_id, CampaignEntry.state == "pending",
                CampaignEntry.next_at > now))
            agents = (await s.scalars(select(CampaignAgent.agent_id).where(
                CampaignAgent.campaign_id == campaign_id).order_by(CampaignAgent.agent_id))).all()
        held = counts.get("offered", 0) + counts.get("dialling", 0)
        progress = {"cases": sum(counts.values()), "left": counts.get("pending", 0) + held, "offered": held,
                    "attempted": attempted or 0,
                    "contacted": counts.get("done", 0), "blocked": counts.get("blocked", 0),
                    "next_scheduled_at": upcoming, "agents": list(agents)}
        return campaign, progress

    async def campaigns(self, principal: Principal) -> list[Campaign]:
        """The campaigns of the caller's clients, newest first."""
        principal.require(*READERS)
        q = Scope.of(principal).where_client(select(Campaign), Campaign.client_id).order_by(
            Campaign.created_at.desc(), Campaign.id)
        async with self.db.read() as s:
            return list((await s.scalars(q)).all())

    # -- preview --------------------------------------------------------------------------------
    async def next(self, principal: Principal, agent_id: str,
                   modes: tuple[str, ...] = ("preview", "progressive")) -> Offer | None:
        """The case offered to ``agent_id`` now (the one it already holds, else the next one of its running
        campaigns in ``modes``), or None."""
        principal.require(*WORKERS)
        view = await self.presence.get(principal, agent_id)
        current = view.presence
        if current.state in NOT_DIALLABLE:
            raise AgentNotAvailable(f"agent {agent_id} is {current.state}: set the agent available first",
                                    details={"agent": agent_id, "state": current.state.value,
                                             "pause_code": current.pause_code, "reason": current.reason})
        agent = view.user
        now = self.clock.now()
        async with self.db.begin() as s:
            # one offer per agent, whichever instance asks: two ticks for one agent wait for each other here
            # (the second then sees the first one's offer as held) instead of each claiming its own entry
            await self._lock_agent(s, agent_id)
            held = (await s.scalars(select(CampaignEntry).where(
                CampaignEntry.claimed_by == agent_id, CampaignEntry.state.in_(HELD),
                CampaignEntry.lease_until > now))).first()
            if held is not None and held.number is not None:
                kind = await s.scalar(select(CaseContact.kind).where(CaseContact.case_id == held.case_id,
                                                                     CaseContact.number == held.number))
                return Offer(held, held.number, kind or "", "held")
            running = (await s.scalars(select(CampaignAgent.campaign_id).join(
                Campaign, Campaign.id == CampaignAgent.campaign_id).where(
                CampaignAgent.agent_id == agent_id, Campaign.state == "running", Campaign.mode.in_(modes))
                .order_by(CampaignAgent.campaign_id))).all()
            if not running:
                return None
            scope = Scope.of(_as_principal(agent))
            mine = scope.case_clause(Case.client_id, Case.team, Case.assigned_agent, pooled_clause(Case.client_id),
                                     handed_clause(Case.id))
            # the agent's due callbacks (a few rows of ix_callbacks_agent_state_due), then its team's handed to
            # the team after the client's grace (ix_callbacks_team_state_handed), then their entries
            due = list((await s.execute(select(Callback.case_id, Callback.id).where(
                Callback.agent_id == agent_id, Callback.state == "scheduled", Callback.due_at <= now).order_by(
                Callback.due_at, Callback.id).limit(CANDIDATES))).all())
            if agent.team is not None:
                due += (await s.execute(select(Callback.case_id, Callback.id).where(
                    Callback.team == agent.team, Callback.state == "scheduled", Callback.handed_at.is_not(None),
                    Callback.agent_id != agent_id, scope.client_clause(Callback.client_id)).order_by(
                    Callback.due_at, Callback.id).limit(CANDIDATES))).all()
            if due:
                order = {case_id: i for i, (case_id, _id) in enumerate(due)}
                callback_of = {case_id: cb_id for case_id, cb_id in reversed(due)}
                q = select(CampaignEntry).join(Case, Case.id == CampaignEntry.case_id).where(
                    CampaignEntry.campaign_id.in_(running), CampaignEntry.case_id.in_(order), _free(now), mine)
                entries = sorted((await s.scalars(self._locking(q))).all(), key=lambda e: order[e.case_id])
                for entry in entries:
                    offer = await self._try(s, entry, agent, now, reason="callback",
                                            callback_id=callback_of[entry.case_id])
                    if offer is not None:
                        return offer
            # then each campaign's entries in the pick index's own order, merged
            candidates: list[CampaignEntry] = []
            # a pooling client's unassigned cases are offered to its teams' agents (their team's only: ``mine``)
            pooling = set() if agent.team is None else set((await s.scalars(
                select(Campaign.id).join(ClientSettings, ClientSettings.client_id == Campaign.client_id).where(
                    Campaign.id.in_(running), ClientSettings.pooling.is_(True)))).all())
            for campaign_id in running:
                q = pick_query(campaign_id, agent_id, now).join(Case, Case.id == CampaignEntry.case_id).where(mine)
                candidates.extend((await s.scalars(self._locking(q))).all())
                if campaign_id in pooling:
                    q = pick_query(campaign_id, None, now).join(Case, Case.id == CampaignEntry.case_id).where(
                        mine, CampaignEntry.team == agent.team)
                    candidates.extend((await s.scalars(self._locking(q))).all())
                    lapsed_pool = select(CampaignEntry).join(Case, Case.id == CampaignEntry.case_id).where(
                        CampaignEntry.campaign_id == campaign_id, CampaignEntry.state.in_(HELD),
                        CampaignEntry.assigned_agent.is_(None), CampaignEntry.team == agent.team,
                        CampaignEntry.lease_until <= now, mine).limit(CANDIDATES)
                    candidates.extend((await s.scalars(self._locking(lapsed_pool))).all())
                # an offer (or a dial an instance stopped before placing) whose lease ran out: from the same index
                lapsed = select(CampaignEntry).join(Case, Case.id == CampaignEntry.case_id).where(
                    CampaignEntry.campaign_id == campaign_id, CampaignEntry.state.in_(HELD),
                    CampaignEntry.assigned_agent == agent_id, CampaignEntry.lease_until <= now, mine).limit(CANDIDATES)
                candidates.extend((await s.scalars(self._locking(lapsed))).all())
            candidates.sort(key=_pick_key)
            for entry in candidates[:CANDIDATES]:
                reason = "first_call" if entry.first_call_by is not None else "priority"
                offer = await self._try(s, entry, agent, now, reason=reason, callback_id=None)
                if offer is not None:
                    return offer
        return None

    async def skip(self, principal: Principal, agent_id: str, reason: str) -> CampaignEntry:
        """The agent passes on its offer, with a reason: the case waits for the campaign's no-answer retry."""
        principal.require(*WORKERS)
        await self.presence.get(principal, agent_id)
        now = self.clock.now()
        async with self.db.begin() as s:
            entry = (await s.scalars(self.db.for_update(select(CampaignEntry).where(
                CampaignEntry.claimed_by == agent_id, CampaignEntry.state == "offered")))).first()
            if entry is None:
                raise NoOffer(f"agent {agent_id} holds no offer", details={"agent": agent_id})
            campaign = await s.get(Campaign, entry.campaign_id)
            retry = timedelta(seconds=campaign.no_answer_retry_s if campaign else 3600)
            entry.state, entry.claimed_by, entry.lease_until = "pending", None, None
            entry.next_at, entry.last_result, entry.updated_at = now + retry, f"skipped: {reason}"[:64], now
        return entry

    async def on_call_state(self, session: AsyncSession, call: Call, state: CallState) -> None:
        """A call of an offered case ends: contacted (done), or back to pending for the number rules."""
        if state is not CallState.ENDED or not call.case_id:
            return
        if call.direction == "inbound" and call.answered_at is None:
            return  # a debtor's call nobody answered is no attempt of the campaign (it left a callback)
        q = select(CampaignEntry).where(CampaignEntry.case_id == call.case_id,
                                        CampaignEntry.claimed_by == call.agent_id, CampaignEntry.state.in_(HELD))
        for entry in (await session.scalars(self.db.for_update(q))).all():
            entry.attempts += 1
            entry.last_result, entry.first_call_by, entry.tier = call.end_reason, None, 1
            entry.claimed_by, entry.lease_until, entry.updated_at = None, None, self.clock.now()
            entry.state = "done" if call.answered_at is not None else "pending"
            entry.next_at = self.clock.now()

    async def on_presence(self, session: AsyncSession, agent_id: str, presence: Presence) -> None:
        """An agent who paused or went offline (its phone unregistered, say) gives back the cases offered to it."""
        if presence.state in NOT_DIALLABLE:
            await self._release(session, agent_id, None)

    # -- progressive ----------------------------------------------------------------------------
    async def tick(self) -> int:
        """Offer the next case to each available, idle agent of a running progressive campaign, and dial the
        offers whose preview is over; how many calls this instance placed."""
        now = self.clock.now()
        busy = exists().where(CampaignEntry.claimed_by == CampaignAgent.agent_id, CampaignEntry.state.in_(HELD),
                              CampaignEntry.lease_until > now)
        idle = select(CampaignAgent.agent_id).distinct().join(Campaign, Campaign.id == CampaignAgent.campaign_id).join(
            AgentPresence, AgentPresence.agent_id == CampaignAgent.agent_id).where(
            Campaign.state == "running", Campaign.mode == "progressive", AgentPresence.state == "available", ~busy)
        async with self.db.read() as s:
            agents = (await s.scalars(idle)).all()
            due = (await s.execute(select(CampaignEntry.id, CampaignEntry.claimed_by).join(
                Campaign, Campaign.id == CampaignEntry.campaign_id).where(
                Campaign.state == "running", Campaign.mode == "progressive", CampaignEntry.state == "offered",
                CampaignEntry.next_at <= now, CampaignEntry.lease_until > now))).all()
        for agent_id in agents:
            try:
                await self.next(_system(agent_id), agent_id, modes=("progressive",))
            except AgentNotAvailable:
                continue  # changed since the read: the next tick sees it
        placed = 0
        for entry_id, holder in due:
            placed += await self._dial(entry_id, holder)
        return placed

    async def _dial(self, entry_id: str, agent_id: str | None) -> int:
        """Dial one offered entry whose preview is over, if this instance moves it to ``dialling`` first."""
        now = self.clock.now()
        async with self.db.begin() as s:
            if agent_id is not None:  # the agent first (as ``next`` and a call's end lock it), then the entry
                await self._lock_agent(s, agent_id)
            res = await s.execute(update(CampaignEntry).where(
                CampaignEntry.id == entry_id, CampaignEntry.state == "offered", CampaignEntry.claimed_by == agent_id)
                .values(state="dialling", updated_at=now))
            won = int(res.rowcount or 0)  # type: ignore[attr-defined]
            entry = await s.get(CampaignEntry, entry_id) if won == 1 else None
            user = await s.get(User, agent_id) if agent_id else None
            if entry is not None and agent_id is not None and await self._busy(s, agent_id, now):
                # the agent is on another call (it dialled by hand, say): try again after the preview
                entry.state = "offered"
                entry.next_at = now + timedelta(seconds=self.settings.progressive_preview_s)
                return 0
        if entry is None or user is None or entry.number is None:
            return 0
        try:
            await self.calls.request_call(_as_principal(user), agent_id=user.id, number=entry.number,
                                          case_id=entry.case_id)
        except CallguardError as exc:  # PbxUnavailable, AgentNotAvailable, a blocked gate...
            await self._undial(entry_id, exc)
            return 0
        return 1

    async def _busy(self, s: AsyncSession, agent_id: str, now: datetime) -> bool:
        """Is the agent anything but available, or has it a call that has not ended (of the last hour)?"""
        row = await s.get(AgentPresence, agent_id)
        if row is not None and row.state != "available":
            return True
        live = await s.scalar(select(func.count()).where(
            Call.agent_id == agent_id, Call.created_at > now - timedelta(hours=1), Call.state != "ended"))
        return bool(live)

    async def _lock_agent(self, s: AsyncSession, agent_id: str) -> None:
        """Lock the agent's presence row (PostgreSQL; SQLite's writers are serialised already)."""
        await s.execute(self.db.for_update(select(AgentPresence.agent_id).where(AgentPresence.agent_id == agent_id)))

    async def _undial(self, entry_id: str, exc: CallguardError) -> None:
        """The dial was refused (the agent paused, the gate blocked, the PBX is down): the case waits."""
        now = self.clock.now()
        retry = exc.details.get("next_allowed_at") if isinstance(exc.details, dict) else None
        async with self.db.begin() as s:
            entry = (await s.scalars(self.db.for_update(select(CampaignEntry).where(
                CampaignEntry.id == entry_id)))).first()
            if entry is None or entry.state != "dialling":
                return
            entry.state, entry.claimed_by, entry.lease_until, entry.updated_at = "pending", None, None, now
            entry.last_result = exc.code[:64]
            entry.next_at = _instant(retry) if isinstance(retry, str) else now + timedelta(seconds=30)

    # -- helpers --------------------------------------------------------------------------------
    async def _try(self, s: AsyncSession, entry: CampaignEntry, agent: User, now: datetime, *, reason: str,
                   callback_id: str | None) -> Offer | None:
        """Offer ``entry`` to ``agent`` if a number is ready and the gate allows it now; else reschedule it."""
        campaign = await s.get(Campaign, entry.campaign_id)
        assert campaign is not None
        numbers = [Number(c.number, c.kind, c.status == "valid" and c.removed_at is None and not c.third_party_objected)
                   for c in (await s.scalars(select(CaseContact).where(CaseContact.case_id == entry.case_id)
                                             .order_by(CaseContact.id))).all()]
        calls = (await s.execute(select(Call.number, Call.end_reason, Call.created_at, Call.state).where(
            Call.case_id == entry.case_id))).all()
        if any(c.state != CallState.ENDED.value for c in calls):  # a call of the case is on: not now
            entry.state, entry.claimed_by, entry.lease_until = "pending", None, None
            entry.next_at, entry.updated_at = now + OFFER_LEASE, now
            return None
        attempts = [Attempt(c.number, c.end_reason, c.created_at) for c in calls]
        pick = pick_number(numbers, attempts, now, busy_retry=timedelta(seconds=campaign.busy_retry_s),
                           no_answer_retry=timedelta(seconds=campaign.no_answer_retry_s))
        entry.updated_at = now
        if pick is None:
            entry.state, entry.last_result, entry.claimed_by, entry.lease_until = "blocked", "no-number", None, None
            return None
        if pick.ready_at > now:
            entry.state, entry.next_at, entry.claimed_by, entry.lease_until = "pending", pick.ready_at, None, None
            return None
        decision = await self.gate.check(s, DialRequest(
            call_id=new_id(), agent_id=agent.id, team=agent.team, number=pick.number, case_id=entry.case_id,
            principal=_as_principal(agent), now=now, dry_run=True))
        if not decision.allowed:
            retry = decision.body.get("next_allowed_at")
            entry.claimed_by, entry.lease_until = None, None
            entry.last_result = str(decision.body.get("code") or "blocked")[:64]
            if retry:
                entry.state, entry.next_at = "pending", _instant(retry)
            else:
                entry.state = "blocked"  # a hard stop: never dialled while it lasts
            return None
        entry.state, entry.claimed_by, entry.lease_until = "offered", agent.id, now + OFFER_LEASE
        entry.number = pick.number
        if campaign.mode == "progressive":  # an offered entry's next_at: when a progressive campaign dials it
            entry.next_at = now + timedelta(seconds=self.settings.progressive_preview_s)
        await s.flush()
        await self.events.record(s, DomainEvent(type=ev.CASE_OFFERED, payload=ev.offer_payload(entry, reason),
                                                case_id=entry.case_id, agent_id=agent.id, client_id=entry.client_id,
                                                team=entry.team, occurred_at=now))
        return Offer(entry, pick.number, pick.kind, reason, callback_id)

    def _locking(self, stmt: Any) -> Any:
        """PostgreSQL: lock the candidate entries, skipping those another instance is offering right now."""
        return stmt if self.db.is_sqlite else stmt.with_for_update(skip_locked=True, of=CampaignEntry)

    async def _release(self, s: AsyncSession, agent_id: str, campaign_id: str | None) -> None:
        """The agent's offers (of one campaign, or all) go back to their campaigns, due at once."""
        q = select(CampaignEntry).where(CampaignEntry.claimed_by == agent_id, CampaignEntry.state == "offered")
        if campaign_id is not None:
            q = q.where(CampaignEntry.campaign_id == campaign_id)
        for entry in (await s.scalars(self.db.for_update(q))).all():
            entry.state, entry.claimed_by, entry.lease_until = "pending", None, None
            entry.next_at = entry.updated_at = self.clock.now()

    async def _visible(self, s: AsyncSession, principal: Principal, campaign_id: str, *,
                       lock: bool = False) -> Campaign:
        q = select(Campaign).where(Campaign.id == campaign_id)
        campaign = (await s.scalars(self.db.for_update(q) if lock else q)).first()
        if campaign is None or not Scope.of(principal).sees_client(campaign.client_id):
            raise NoSuchCampaign(f"no campaign {campaign_id}", details={"campaign_id": campaign_id})
        return campaign

    async def _event(self, s: AsyncSession, c: Campaign) -> None:
        await self.events.record(s, DomainEvent(type=ev.CAMPAIGN_CHANGED, payload=ev.campaign_payload(c),
                                                client_id=c.client_id, occurred_at=self.clock.now()))


def _as_principal(agent: User) -> Principal:
    """The agent as the principal the gate and the walls see (the campaign dials in the agent's name)."""
    return Principal(agent.id, Role.AGENT, team=agent.team, clients=frozenset(agent.clients or []))


def _free(now: datetime) -> ColumnElement[bool]:
    """An entry that may be offered: pending, or offered under a lease that ran out."""
    return or_(CampaignEntry.state == "pending",
               and_(CampaignEntry.state == "offered", CampaignEntry.lease_until <= now))


def pick_query(campaign_id: str, agent_id: str | None, now: datetime) -> Select[Any]:
    """The next candidates of one campaign for one agent (None: the unassigned ones, a pooling client's), read
    from ``ix_campaign_entries_next`` in its own order (no sort, no scan: ``bench/campaign_pick.py`` checks the
    plan)."""
    e = CampaignEntry
    agent = e.assigned_agent.is_(None) if agent_id is None else e.assigned_agent == agent_id
    return select(e).where(e.campaign_id == campaign_id, e.state == "pending", agent, e.next_at <= now).order_by(
        e.tier, e.first_call_by, e.priority, e.next_at, e.id).limit(CANDIDATES)


def _pick_key(e: CampaignEntry) -> tuple[int, datetime, int, datetime, str]:
    far = datetime.max.replace(tzinfo=UTC)
    return (e.tier, e.first_call_by or far, e.priority, e.next_at, e.id)


def _system(agent_id: str) -> Principal:
    """The campaign acting for ``agent_id`` (the agent's own rights: its cases, its presence)."""
    return Principal(agent_id, Role.AGENT)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
