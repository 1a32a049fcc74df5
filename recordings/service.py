"""Recording use cases: the row's lifecycle from the call, reads with access checks, pause/resume,
the operator retry of a failed ingest."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor, AuditService
from auth.models import Role
from auth.scope import Scope
from auth.service import Principal
from compliance.models import ClientPolicy
from config.settings import RecordingSettings
from core.clock import Clock
from core.events import EventLog
from db.base import new_id
from db.engine import Database
from dialer.models import Call
from recordings import events as ev
from recordings.access import Action, Result, in_scope, log_access, may_access, read_log
from recordings.errors import (
    NoSuchRecording,
    NotFailed,
    NotStored,
    PauseNotAllowed,
    RecordingAccessDenied,
    RecordingIdRequired,
)
from recordings.models import Recording, RecordingAccess, RecordingPause
from recordings.ranges import parse_range
from recordings.states import RecordingState, advance
from recordings.storage import ByteRange, RecordingStore

log = logging.getLogger(__name__)
_IN_BATCH = 500  # ids per IN (...) query: under every backend's bound-parameter limit
OUT_OF_SCOPE = "outside the caller's scope"
"""Access-log detail of a recording refused because of its client, team or agent (answered 404)."""
Mute = Callable[[str, str, bool], Awaitable[None]]
"""``mute(pbx, channel, pause)``: pause or resume a call's MixMonitor (``PbxGateway.mute_recording``)."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and from where (for the access log and the audit trail)."""

    principal: Principal
    remote: str | None = None
    request_id: str | None = None

    def actor(self) -> Actor:
        """The audited actor of this request."""
        return Actor(user_id=self.principal.user_id, role=str(self.principal.role), address=self.remote or None,
                     request_id=self.request_id)


def link_to_call(rec: Recording, call: Call) -> None:
    """Copy the call's links (case, agent, team, client) and end facts onto the recording."""
    rec.case_id = rec.case_id or call.case_id
    rec.agent_id = rec.agent_id or call.agent_id
    rec.team = rec.team or call.team
    rec.client_id = rec.client_id or call.client_id
    if call.ended_at is not None:
        rec.call_ended_at = call.ended_at
        rec.outcome = call.end_reason


async def on_call_state(session: AsyncSession, call: Call, *, events: EventLog, now: datetime) -> Recording | None:
    """Keep the call's recording row in step with the call, inside the caller's transaction.

    Called when a call reaches ``agent_answered`` (MixMonitor starts then) and when it ends: creates
    the row in state ``recording`` at agent answer, moves it to ``pending`` at call end. Calls whose
    agent never answered have no recording. Idempotent; safe when several instances call it.
    """
    if call.agent_answered_at is None:
        return None
    rec = await session.scalar(select(Recording).where(Recording.call_id == call.id))
    if rec is None:
        rec = Recording(id=new_id(), call_id=call.id, kind="call", state=RecordingState.RECORDING.value,
                        started_at=call.agent_answered_at, created_at=now, updated_at=now)
        link_to_call(rec, call)
        try:
            async with session.begin_nested():
                session.add(rec)
                await session.flush()
        except IntegrityError:  # another instance created it first
            rec = await session.scalar(select(Recording).where(Recording.call_id == call.id))
            if rec is None:
                raise
        else:
            await events.record(session, ev.recording_event(ev.RECORDING_STARTED, rec, now))
    link_to_call(rec, call)
    if call.ended_at is not None and rec.state == RecordingState.RECORDING:
        rec.state = advance(rec.state, RecordingState.PENDING).value
        rec.updated_at = now
    return rec


def pause_snapshot(row: RecordingPause) -> dict[str, object]:
    """The audited form of a paused interval."""
    return {"pause_id": row.id, "paused_at": row.paused_at.isoformat(), "paused_by": row.paused_by,
            "resumed_at": row.resumed_at.isoformat() if row.resumed_at else None, "resumed_by": row.resumed_by}


class RecordingService:
    """Reads (with the access rule and the access log), audio streams, pause/resume."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, settings: RecordingSettings,
                 store: RecordingStore, mute: Mute | None = None, wake: Callable[[], None] | None = None,
                 audit: AuditService | None = None) -> None:
        self.db, self.events, self.clock, self.settings, self.store = db, events, clock, settings, store
        # the audit trail (pause/resume, legal holds); stateless over the same database and clock
        self.audit = audit if audit is not None else AuditService(db=db, clock=clock)
        self.mute = mute  # dialer.pbx.PbxGateway.mute_recording, or None without a PBX
        self.wake = wake  # scans the spool now (RecordingsFeature.wake)

    async def on_call_state(self, session: AsyncSession, call: Call) -> Recording | None:
        """The dialer's hook (see ``on_call_state``), bound to this feature's clock and event log."""
        return await on_call_state(session, call, events=self.events, now=self.clock.now())

    # -- access ---------------------------------------------------------------------------------
    async def authorize(self, who: Requester, recording_id: str, action: Action, *,
                        detail: str | None = None) -> Recording:
        """The recording if ``who`` may do ``action`` on it; logs granted/denied/not_found either way."""
        async with self.db.begin() as s:
            rec = await s.get(Recording, recording_id)
            outcome = self._check(s, who, recording_id, rec, action, detail=detail, log_granted=True)
        if outcome is not None:
            raise outcome
        assert rec is not None
        return rec

    async def authorize_all(self, who: Requester, recording_ids: Sequence[str], action: Action, *,
                            detail: str | None = None) -> list[Recording]:
        """``authorize`` for many recordings in one transaction: one access-log row each, in order.

        Raises after logging them all: ``NoSuchRecording`` if one is missing, else
        ``RecordingAccessDenied`` if one is not allowed; otherwise the recordings, in order.
        """
        wanted = list(dict.fromkeys(recording_ids))
        missing: list[str] = []
        denied: list[str] = []
        async with self.db.begin() as s:
            found: dict[str, Recording] = {}
            for i in range(0, len(wanted), _IN_BATCH):
                rows = await s.scalars(select(Recording).where(Recording.id.in_(wanted[i:i + _IN_BATCH])))
                found.update((r.id, r) for r in rows)
            now = self.clock.now()
            scope = Scope.of(who.principal)
            for rid in wanted:
                rec = found.get(rid)
                detail_ = detail
                if rec is None:
                    missing.append(rid)
                    result: Result = "not_found"
                elif not in_scope(scope, rec):
                    missing.append(rid)  # answered like a missing one; logged as the refusal it is
                    result, detail_ = "denied", OUT_OF_SCOPE
                elif not may_access(who.principal, rec, action,
                                    agents_may_listen_own=self.settings.agents_may_listen_own):
                    denied.append(rid)
                    result = "denied"
                else:
                    result = "granted"
                log_access(s, who.principal, at=now, remote=who.remote, recording_id=rid[:64], action=action,
                           result=result, detail=detail_)
        if missing:
            raise NoSuchRecording(f"no recording {missing[0]}", details={"recording_ids": missing})
        if denied:
            raise RecordingAccessDenied("you may not access these recordings",
                                        details={"recording_ids": denied, "action": action})
        return [found[rid] for rid in wanted]

    def _check(self, s: AsyncSession, who: Requester, recording_id: str, rec: Recording | None, action: Action,
               *, detail: str | None, log_granted: bool) -> Exception | None:
        """The refusal (404/403) of ``action`` on ``rec``, or None; logs it in ``s`` (and a grant if asked)."""
        now = self.clock.now()
        if rec is None:
            log_access(s, who.principal, at=now, remote=who.remote, recording_id=recording_id[:64],
                       action=action, result="not_found")
            return NoSuchRecording(f"no recording {recording_id}", details={"recording_id": recording_id})
        if not in_scope(Scope.of(who.principal), rec):
            log_access(s, who.principal, at=now, remote=who.remote, recording_id=rec.id, action=action,
                       result="denied", detail=OUT_OF_SCOPE)
            return NoSuchRecording(f"no recording {recording_id}", details={"recording_id": recording_id})
        if not may_access(who.principal, rec, action, agents_may_listen_own=self.settings.agents_may_listen_own):
            log_access(s, who.principal, at=now, remote=who.remote, recording_id=rec.id, action=action,
                       result="denied", detail=detail)
            return RecordingAccessDenied("you may not access this recording",
                                         details={"recording_id": recording_id, "action": action})
        if log_granted:
            log_access(s, who.principal, at=now, remote=who.remote, recording_id=rec.id, action=action,
                       result="granted", detail=detail)
        return None

    async def access_log(self, who: Requester, *, recording_id: str | None = None, user_id: str | None = None,
                         before_id: int | None = None, limit: int = 100) -> list[RecordingAccess]:
        """The recordings access log of the caller's scope, newest first (keyset pagination on the id).

        Admins read the whole log of their scope. QA, supervisors and managers read the log of one recording
        (``recording_id`` required, else 422 ``recording-id-required``) that they may see: the read is checked
        and logged like any access (action ``access_log``); another scope's recording answers 404 exactly as
        reading it does. A named recording is checked for admins too; for them a recording row that no longer
        exists still has its log. The read is logged after the rows are read, so it shows from the next read on.
        """
        admin = who.principal.role == Role.ADMIN
        if recording_id is None:
            if not admin:
                raise RecordingIdRequired("name the recording whose access log you read (recording_id)",
                                          details={"field": "recording_id"})
            async with self.db.read() as s:
                return await read_log(s, Scope.of(who.principal), user_id=user_id, before_id=before_id,
                                      limit=limit)
        async with self.db.begin() as s:
            rec = await s.get(Recording, recording_id)
            refused = None if rec is None and admin else self._check(
                s, who, recording_id, rec, "access_log", detail=None, log_granted=False)
            rows: list[RecordingAccess] = []
            if refused is None:
                rows = await read_log(s, Scope.of(who.principal), recording_id=recording_id, user_id=user_id,
                                      before_id=before_id, limit=limit)
                log_access(s, who.principal, at=self.clock.now(), remote=who.remote,
                           recording_id=recording_id[:64], action="access_log", result="granted",
                           detail=None if rec is not None else "no recording row")
        if refused is not None:
            raise refused
        return rows

    async def get(self, who: Requester, recording_id: str) -> Recording:
        """Metadata of one recording (logged)."""
        return await self.authorize(who, recording_id, "metadata")

    async def open_audio(self, who: Requester, recording_id: str, range_header: str | None, *,
                         download: bool = False) -> tuple[Recording, ByteRange, bool]:
        """Authorise (logged as audio or download) and open the requested range of the stored audio.

        Returns (recording, open range, partial?); ``RangeNotSatisfiable`` for a range outside it.
        """
        rec = await self.authorize(who, recording_id, "download" if download else "audio")
        if rec.state != RecordingState.STORED or rec.key is None:
            raise NotStored(f"recording {recording_id} has no stored audio ({rec.state})",
                            details={"recording_id": recording_id, "state": rec.state})
        wanted = parse_range(range_header, rec.size or 0)
        start, end = wanted if wanted is not None else (0, None)
        rng = await self.store.open_range(rec.key, start, end, version_id=rec.version_id)
        return rec, rng, wanted is not None

    # -- operator retry of a failed ingest -------------------------------------------------------
    async def retry(self, who: Requester, recording_id: str, reason: str) -> Recording:
        """Move a ``failed`` recording back to ``pending``: attempts reset, next attempt due now, ingest woken.

        One transaction: the row change, the access-log entry (action ``retry``, ``reason`` as detail) and
        the ``recording.retried`` event commit together. Refusals are logged like every access (404
        ``not_found``, 403 ``denied``); a recording that is not ``failed`` is 409 ``recording-not-failed``
        and leaves no trace. The spool files a failed ingest keeps are what the next scan picks up.
        """
        async with self.db.begin() as s:
            rec = (await s.execute(self.db.for_update(select(Recording).where(Recording.id == recording_id)))
                   ).scalar()
            refused = self._check(s, who, recording_id, rec, "retry", detail=reason, log_granted=False)
            if refused is None:
                assert rec is not None
                self._reopen(s, who, rec, reason)
                await self.events.record(s, ev.recording_event(
                    ev.RECORDING_RETRIED, rec, rec.updated_at, by=who.principal.user_id, reason=reason[:200]))
        if refused is not None:
            raise refused
        assert rec is not None
        log.info("recording %s of call %s retried by %s: %s", rec.id, rec.call_id, who.principal.user_id, reason)
        if self.wake is not None:
            self.wake()
        return rec

    def _reopen(self, s: AsyncSession, who: Requester, rec: Recording, reason: str) -> None:
        """The retry's row change and its access-log entry; ``NotFailed`` (rolling back) unless ``failed``."""
        if rec.state != RecordingState.FAILED:
            raise NotFailed(f"recording {rec.id} is {rec.state}, not failed: nothing to retry",
                            details={"recording_id": rec.id, "state": rec.state})
        now = self.clock.now()
        rec.state = advance(rec.state, RecordingState.PENDING).value
        rec.attempts, rec.next_attempt_at, rec.updated_at = 0, now, now
        rec.lease_owner = rec.lease_until = None  # last_error stays until the next attempt replaces it
        log_access(s, who.principal, at=now, remote=who.remote, recording_id=rec.id, action="retry",
                   result="granted", detail=reason)

    # -- pause / resume (PCI DSS: only if the client's policy allows; every interval logged) ------
    async def pause(self, who: Requester, recording_id: str, reason: str) -> RecordingPause:
        """Mute the recording (MixMonitorMute) and open a paused interval."""
        return await self._pause_or_resume(who, recording_id, reason, pause=True)

    async def resume(self, who: Requester, recording_id: str) -> RecordingPause:
        """Unmute and close the open paused interval."""
        return await self._pause_or_resume(who, recording_id, "", pause=False)

    async def _pause_or_resume(self, who: Requester, recording_id: str, reason: str, *,
                               pause: bool) -> RecordingPause:
        rec = await self.authorize(who, recording_id, "pause")
        async with self.db.begin() as s:
            rec = await s.get(Recording, recording_id)  # type: ignore[assignment]
            call = await s.get(Call, rec.call_id)
            policy = await s.get(ClientPolicy, rec.client_id) if rec.client_id else None
            allowed = bool(policy and (policy.policy or {}).get("recording_pause_allowed"))
            if not allowed or rec.state != RecordingState.RECORDING or call is None or not call.agent_channel:
                raise PauseNotAllowed("pausing is not allowed for this recording",
                                      details={"recording_id": recording_id, "policy_allows": allowed,
                                               "state": rec.state})
            now = self.clock.now()
            open_ = await s.scalar(select(RecordingPause).where(RecordingPause.recording_id == rec.id,
                                                                 RecordingPause.resumed_at.is_(None)))
            if pause == (open_ is not None):
                raise PauseNotAllowed("already paused" if pause else "not paused",
                                      details={"recording_id": recording_id})
            if pause:
                row = RecordingPause(id=new_id(), recording_id=rec.id, paused_at=now,
                                     paused_by=who.principal.user_id, reason=reason)
                s.add(row)
            else:
                assert open_ is not None
                row = open_
                row.resumed_at, row.resumed_by = now, who.principal.user_id
            if self.mute is None:
                raise PauseNotAllowed("no PBX connection to pause through", details={})
            await self.mute(call.pbx, call.agent_channel, pause)  # inside the tx: a failed mute rolls back
            await self.events.record(s, ev.recording_event(
                ev.RECORDING_PAUSED if pause else ev.RECORDING_RESUMED, rec, now, by=who.principal.user_id))
            await s.flush()
            await self.audit.record(
                s, actor=who.actor(), action="recording.paused" if pause else "recording.resumed",
                target_type="recording", target_id=rec.id, client_id=rec.client_id,
                reason=(reason or None) if pause else open_.reason if open_ is not None else None,
                before={"paused": not pause}, after={"paused": pause, **pause_snapshot(row)})
        return row
