"""Monitoring use cases: start a session (ring the supervisor's phone), change its mode, end it; follow its leg.

Who may: supervisors and managers, on calls inside their scope (``auth.scope``: their clients, and a team
supervisor its team's); anyone else's call answers exactly like a missing one, an agent is refused by role.
What reaches the PBX comes from the service's own records: the agent leg's channel name as learnt from AMI, the
caller's own phone. Every start, mode change and end is in the audit trail and is a step (domain event) of the
call, in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor, AuditService
from auth.models import Role, User
from auth.scope import Scope
from auth.service import Principal
from core.clock import Clock
from core.events import DomainEvent, EventLog
from db.base import new_id
from db.engine import Database
from dialer.errors import CallAlreadyEnded, InvalidMonitorTarget, NoSuchCall, OriginateFateUnknown, PbxUnavailable
from dialer.models import Call
from dialer.pbx import AGENT_CHANNEL, PbxGateway
from dialer.states import CallState
from dialer.translate import MONITOR_LEG_PREFIX, MonitorLegUpdate
from monitor import events as ev
from monitor.errors import CallNotLive, MonitorAlreadyOpen, MonitorNoPhone, MonitorNotActive, NoSuchMonitorSession
from monitor.models import MonitorSession
from monitor.schemas import EndReason, MonitorMode, SessionState

log = logging.getLogger(__name__)

MONITOR_ROLES = (Role.SUPERVISOR, Role.MANAGER)
#: call states with an answered agent leg to join
LIVE_STATES = frozenset({CallState.AGENT_ANSWERED.value, CallState.CUSTOMER_RINGING.value, CallState.ANSWERED.value})
SYSTEM = Actor(user_id="system", role="system")


class MonitorService:
    """Supervisor listen / whisper / barge on live calls."""

    def __init__(self, *, db: Database, events: EventLog, pbx: PbxGateway, audit: AuditService,
                 clock: Clock) -> None:
        self.db, self.events, self.pbx, self.audit, self.clock = db, events, pbx, audit, clock

    # -- the API's use cases -----------------------------------------------------------------------
    async def start(self, principal: Principal, actor: Actor, call_id: str, mode: MonitorMode) -> MonitorSession:
        """Record the session (audited, ``call.monitor_started``), then ring the caller's own phone; on answer
        the PBX joins it to the call's agent leg in ``mode``. A PBX that cannot be asked ends the session
        (``failed``) and answers 503."""
        principal.require(*MONITOR_ROLES)
        async with self.db.begin() as s:
            call = await self._call(s, principal, call_id)
            if call.state == CallState.ENDED.value:
                raise CallAlreadyEnded("the call has already ended", details={"call_id": call_id})
            if call.state not in LIVE_STATES or not call.agent_channel or not AGENT_CHANNEL.fullmatch(
                    call.agent_channel):
                raise CallNotLive("the agent has not answered the call yet", details={"call_id": call_id})
            me = await s.get(User, principal.user_id)
            if me is None or not me.sip_user:
                raise MonitorNoPhone("you have no phone to ring", details={"user_id": principal.user_id})
            open_ = await s.scalar(select(MonitorSession.id).where(
                MonitorSession.call_id == call.id, MonitorSession.supervisor_id == principal.user_id,
                MonitorSession.state != SessionState.ENDED.value))
            if open_ is not None:
                raise MonitorAlreadyOpen("you already monitor this call", details={"session_id": open_})
            session = MonitorSession(
                id=new_id(), call_id=call.id, supervisor_id=principal.user_id, supervisor_role=str(principal.role),
                sip_user=me.sip_user, pbx=call.pbx, client_id=call.client_id, team=call.team, agent_id=call.agent_id,
                mode=mode.value, state=SessionState.RINGING.value, created_at=self.clock.now(), mode_changes=0)
            s.add(session)
            await s.flush()
            await self._step(s, ev.MONITOR_STARTED, session)
            await self._audit(s, actor, "call.monitor_started", session, after={"mode": session.mode})
            target = call.agent_channel
        try:
            await self.pbx.originate_monitor(session.pbx, session_id=session.id, sip_user=session.sip_user,
                                             mode=session.mode, call_id=session.call_id, agent_channel=target)
        except OriginateFateUnknown:  # never re-sent: the leg's events, or the reconcile after the reconnect, tell
            log.warning("AMI connection lost after the Originate of monitoring session %s", session.id)
        except (PbxUnavailable, InvalidMonitorTarget):
            await self._end(session.id, EndReason.FAILED, actor=SYSTEM, why="the PBX could not be asked")
            raise
        return session

    async def sessions(self, principal: Principal, call_id: str) -> list[MonitorSession]:
        """The call's monitoring sessions, oldest first (same walls as starting one)."""
        principal.require(*MONITOR_ROLES)
        async with self.db.read() as s:
            await self._call(s, principal, call_id)
            rows = await s.scalars(select(MonitorSession).where(MonitorSession.call_id == call_id)
                                   .order_by(MonitorSession.created_at, MonitorSession.id))
            return list(rows.all())

    async def change_mode(self, principal: Principal, actor: Actor, call_id: str, session_id: str,
                          mode: MonitorMode) -> MonitorSession:
        """Move the caller's own active session to ``mode`` (AMI Redirect of its leg), then record it
        (audited, ``call.monitor_mode_changed``). The same mode changes nothing."""
        principal.require(*MONITOR_ROLES)
        async with self.db.read() as s:
            session = await self._session(s, principal, call_id, session_id, owner_only=True)
        if session.state != SessionState.ACTIVE.value:
            raise MonitorNotActive("the session is not active (ringing or ended)",
                                   details={"session_id": session_id, "state": session.state})
        if session.mode == mode.value:
            return session
        await self.pbx.change_monitor_mode(session.pbx, session_id=session.id, mode=mode.value)
        async with self.db.begin() as s:
            row = await self._locked(s, session_id)
            if row.state == SessionState.ENDED.value:  # ended while the PBX was asked: nothing to record
                raise MonitorNotActive("the session has ended", details={"session_id": session_id, "state": row.state})
            before = row.mode
            row.mode, row.mode_changes = mode.value, row.mode_changes + 1
            await self._step(s, ev.MONITOR_MODE_CHANGED, row, previous_mode=before)
            await self._audit(s, actor, "call.monitor_mode_changed", row, before={"mode": before},
                              after={"mode": row.mode})
        return row

    async def stop(self, principal: Principal, actor: Actor, call_id: str, session_id: str) -> MonitorSession:
        """End a session (its owner, or a manager who may monitor the call): recorded (audited,
        ``call.monitor_ended``), then the supervisor's leg is hung up; the call goes on."""
        principal.require(*MONITOR_ROLES)
        async with self.db.read() as s:
            session = await self._session(s, principal, call_id, session_id,
                                          owner_only=principal.role is not Role.MANAGER)
        if session.state == SessionState.ENDED.value:
            return session
        ended = await self._end(session_id, EndReason.STOPPED, actor=actor, why=None)
        try:
            await self.pbx.end_monitor(ended.pbx, session_id=ended.id)
        except PbxUnavailable as exc:  # the leg ends with the call at the latest (ChanSpy option E)
            log.warning("hang-up of monitoring leg %s failed: %s", ended.id, exc)
        return ended

    # -- the PBX's facts ---------------------------------------------------------------------------
    async def apply(self, update: MonitorLegUpdate) -> None:
        """A fact of a supervisor's leg: its channel, that it answered (``call.monitor_joined``), that it
        ended (``call.monitor_ended``: not answered, hung up, or with the call)."""
        async with self.db.begin() as s:
            row = await s.scalar(self.db.for_update(
                select(MonitorSession).where(MonitorSession.id == update.session_id)))
            if row is None:
                return
            if update.channel and row.channel is None:
                row.channel = update.channel
            if row.state == SessionState.ENDED.value:
                if update.cause is not None and row.hangup_cause is None:
                    row.hangup_cause = update.cause
                return
            if update.answered_at is not None and row.answered_at is None and update.ended_at is None:
                row.answered_at, row.state = update.answered_at, SessionState.ACTIVE.value
                await self._step(s, ev.MONITOR_JOINED, row)
            if update.ended_at is not None:
                call = await s.get(Call, row.call_id)
                if row.answered_at is None:
                    reason = EndReason.NOT_ANSWERED
                elif call is not None and call.state == CallState.ENDED.value:
                    reason = EndReason.CALL_ENDED
                else:
                    reason = EndReason.HUNG_UP
                row.hangup_cause = update.cause
                await self._close(s, row, reason, at=update.ended_at, actor=SYSTEM,
                                  why="the PBX ended the supervisor's leg")

    async def reconcile(self, pbx: str) -> int:
        """After an AMI reconnect: end the open sessions on ``pbx`` whose leg the PBX no longer has (its events
        may have been missed while the connection was down). Returns how many."""
        listed_at = self.clock.now()
        live = await self.pbx.live_call_ids(pbx)
        settled = listed_at - timedelta(seconds=5)  # a leg originated a moment ago may not exist yet
        async with self.db.read() as s:
            ids = (await s.scalars(select(MonitorSession.id).where(
                MonitorSession.pbx == pbx, MonitorSession.state != SessionState.ENDED.value,
                MonitorSession.created_at < settled))).all()
        gone = [sid for sid in ids if MONITOR_LEG_PREFIX + sid not in live]
        for sid in gone:
            await self._end(sid, EndReason.LOST, actor=SYSTEM, why="the PBX no longer has the supervisor's leg")
        return len(gone)

    async def on_call_state(self, session: AsyncSession, call: Call, state: CallState) -> None:
        """A call's state listener: an ended call ends its open sessions (the PBX hangs their legs up: ChanSpy
        leaves with the agent's channel, and a phone still ringing finds the channel gone on answer)."""
        if state is not CallState.ENDED:
            return
        rows = (await session.scalars(self.db.for_update(select(MonitorSession).where(
            MonitorSession.call_id == call.id, MonitorSession.state != SessionState.ENDED.value)))).all()
        for row in rows:
            await self._close(session, row, EndReason.CALL_ENDED, at=self.clock.now(), actor=SYSTEM,
                              why="the call ended")

    # -- helpers -----------------------------------------------------------------------------------
    async def _call(self, s: AsyncSession, principal: Principal, call_id: str) -> Call:
        """The call, if ``principal`` may monitor it: a call of a client, inside the principal's scope (its
        clients, and a team supervisor's team). Anything else answers like a missing call."""
        call = await s.get(Call, call_id)
        if call is None or call.client_id is None or not Scope.of(principal).sees_call(
                client_id=call.client_id, team=call.team, agent_id=call.agent_id, requested_by=call.requested_by,
                me=principal.user_id):
            raise NoSuchCall(f"no call {call_id}", details={"call_id": call_id})
        return call

    async def _session(self, s: AsyncSession, principal: Principal, call_id: str, session_id: str, *,
                       owner_only: bool) -> MonitorSession:
        await self._call(s, principal, call_id)
        row = await s.get(MonitorSession, session_id)
        if row is None or row.call_id != call_id or (owner_only and row.supervisor_id != principal.user_id):
            raise NoSuchMonitorSession("no such monitoring session of yours on this call",
                                       details={"session_id": session_id})
        return row

    async def _locked(self, s: AsyncSession, session_id: str) -> MonitorSession:
        row = await s.scalar(self.db.for_update(select(MonitorSession).where(MonitorSession.id == session_id)))
        if row is None:
            raise NoSuchMonitorSession("no such monitoring session", details={"session_id": session_id})
        return row

    async def _end(self, session_id: str, reason: EndReason, *, actor: Actor, why: str | None) -> MonitorSession:
        async with self.db.begin() as s:
            row = await self._locked(s, session_id)
            if row.state != SessionState.ENDED.value:
                await self._close(s, row, reason, at=self.clock.now(), actor=actor, why=why)
            return row

    async def _close(self, s: AsyncSession, row: MonitorSession, reason: EndReason, *, at: datetime, actor: Actor,
                     why: str | None) -> None:
        row.state, row.end_reason, row.ended_at = SessionState.ENDED.value, reason.value, at
        if reason is EndReason.STOPPED:
            row.ended_by = actor.user_id[:64]
        await self._step(s, ev.MONITOR_ENDED, row)
        await self._audit(s, actor, "call.monitor_ended", row, reason=why,
                          after={"mode": row.mode, "end_reason": row.end_reason})

    async def _step(self, s: AsyncSession, type_: str, row: MonitorSession, **extra: str) -> None:
        # no agent_id: the agent's own stream and webhooks never show that it is monitored
        await self.events.record(s, DomainEvent(
            type=type_, payload=ev.session_payload(row, **extra), call_id=row.call_id, client_id=row.client_id,
            team=row.team, occurred_at=self.clock.now()))

    async def _audit(self, s: AsyncSession, actor: Actor, action: str, row: MonitorSession, *,
                     reason: str | None = None, before: dict[str, str] | None = None,
                     after: dict[str, str | None] | None = None) -> None:
        await self.audit.record(s, actor=actor, action=action, target_type="call", target_id=row.call_id,
                                client_id=row.client_id, reason=reason, before=before,
                                after={"session_id": row.id, "supervisor_id": row.supervisor_id, **(after or {})})
