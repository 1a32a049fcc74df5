"""Retention: purge what expired and is not on hold, refuse early deletes, legal holds (API and cases)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.service import Principal
from core.clock import Clock
from core.errors import TwoPersonRule
from core.events import EventLog
from db.base import utcnow
from db.engine import Database
from recordings import events as ev
from recordings.access import log_access
from recordings.errors import NotStored, RetentionActive
from recordings.models import Recording
from recordings.service import RecordingService, Requester
from recordings.states import RecordingState, advance
from recordings.storage import ObjectNotFound, RecordingStore, StorageUnavailable

log = logging.getLogger(__name__)


def is_expired(rec: Recording, now: datetime) -> bool:
    """True when the recording may be deleted: stored, past ``retain_until``, no legal hold."""
    return (rec.state == RecordingState.STORED and not rec.legal_hold and rec.retain_until is not None
            and rec.retain_until <= now)


async def hold_case_recordings(session: AsyncSession, case_id: str, actor: str, *, events: EventLog | None = None,
                               now: datetime | None = None) -> list[Recording]:
    """Put every recording of ``case_id`` under legal hold in the caller's transaction (a disputed case),
    whatever its state: one still being made or ingested is stored with the hold. The store's own hold
    follows via ``Retention.sync_holds``; purge reads the database flag, so the hold protects at once.
    Returns the recordings that changed."""
    rows = list((await session.scalars(select(Recording).where(Recording.case_id == case_id,
                                                               Recording.legal_hold.is_(False)))).all())
    for rec in rows:
        await hold_recording(session, rec, actor, events=events, now=now, detail=f"case {case_id}")
    return rows


async def hold_recording(session: AsyncSession, rec: Recording, actor: str, *, events: EventLog | None = None,
                         now: datetime | None = None, detail: str) -> bool:
    """Put ``rec`` under legal hold in the caller's transaction; False when it already was."""
    if rec.legal_hold:
        return False
    at = now or utcnow()
    rec.legal_hold, rec.hold_synced, rec.updated_at = True, False, at
    log_access(session, Principal(user_id=actor[:64], role=Role.INTEGRATION), at=at, remote=None,
               recording_id=rec.id, action="legal_hold", result="granted", detail=f"on ({detail})"[:500])
    if events is not None:
        await events.record(session, ev.recording_event(ev.RECORDING_HOLD_CHANGED, rec, at, legal_hold=True,
                                                        by=actor))
    return True


async def legal_hold_case(session: AsyncSession, case_id: str, on: bool, actor: str, *,
                          events: EventLog | None = None, now: datetime | None = None) -> int:
    """Hold every recording of ``case_id`` (see ``hold_case_recordings``); returns how many changed.

    Only ``on=True``: a legal hold is released one recording at a time, by two people
    (``release_legal_hold``, called by an approved release request).
    """
    if not on:
        raise ValueError("a case's recordings are released from legal hold only through two-person requests")
    return len(await hold_case_recordings(session, case_id, actor, events=events, now=now))


def hold_snapshot(rec: Recording) -> dict[str, Any]:
    """The audited state of a recording's legal hold."""
    return {"legal_hold": rec.legal_hold, "state": rec.state, "call_id": rec.call_id, "case_id": rec.case_id,
            "retain_until": rec.retain_until.isoformat() if rec.retain_until else None}


async def release_legal_hold(session: AsyncSession, rec: Recording, *, who: Principal, remote: str | None,
                             events: EventLog, now: datetime, detail: str) -> bool:
    """Release ``rec``'s legal hold in the caller's transaction (an approved two-person request; ``who`` is
    the approver); retention applies again. False when it was not held."""
    if not rec.legal_hold:
        return False
    rec.legal_hold, rec.hold_synced, rec.updated_at = False, False, now
    log_access(session, who, at=now, remote=remote, recording_id=rec.id, action="legal_hold", result="granted",
               detail=f"off ({detail})"[:500])
    await events.record(session, ev.recording_event(ev.RECORDING_HOLD_CHANGED, rec, now, legal_hold=False,
                                                    by=who.user_id))
    return True


class Retention:
    """Purge job, API delete and legal hold, and pushing holds to the store."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, store: RecordingStore,
                 service: RecordingService) -> None:
        self.db, self.events, self.clock, self.store, self.service = db, events, clock, store, service

    async def purge_expired(self, *, limit: int = 500) -> int:
        """Delete expired, non-held recordings from the store; each deletion logged and evented."""
        now = self.clock.now()
        async with self.db.read() as s:
            ids = (await s.scalars(select(Recording.id).where(
                Recording.state == RecordingState.STORED.value, Recording.legal_hold.is_(False),
                Recording.retain_until <= now).limit(limit))).all()
        purged = 0
        for rid in ids:
            if await self._purge(rid, actor="retention-job"):
                purged += 1
        return purged

    async def _purge(self, rec_id: str, *, actor: str) -> bool:
        async with self.db.begin() as s:
            rec = (await s.execute(self.db.for_update(select(Recording).where(Recording.id == rec_id)))).scalar()
            now = self.clock.now()
            if rec is None or not is_expired(rec, now):
                return False
            assert rec.key is not None
            try:
                await self.store.delete(rec.key, version_id=rec.version_id)
            except ObjectNotFound:
                log.warning("recording %s: object %s already gone at purge", rec.id, rec.key)
            rec.state = advance(rec.state, RecordingState.PURGED).value
            rec.purged_at = rec.updated_at = now
            await self.events.record(s, ev.recording_event(ev.RECORDING_PURGED, rec, now, by=actor))
        log.info("recording %s (call %s, key %s) purged by %s after retention until %s", rec.id, rec.call_id,
                 rec.key, actor, rec.retain_until)
        return True

    async def delete(self, who: Requester, rec_id: str) -> Recording:
        """API delete: only after retention and without hold, else 409 ``retention-active``."""
        rec = await self.service.authorize(who, rec_id, "delete")
        now = self.clock.now()
        if rec.state != RecordingState.STORED:
            raise NotStored(f"recording {rec_id} is {rec.state}", details={"recording_id": rec_id})
        if not is_expired(rec, now):
            raise RetentionActive("the recording is under retention or legal hold",
                                  details={"recording_id": rec_id, "legal_hold": rec.legal_hold,
                                           "retain_until": rec.retain_until.isoformat() if rec.retain_until else None})
        await self._purge(rec_id, actor=who.principal.user_id)
        async with self.db.read() as s:
            got = await s.get(Recording, rec_id)
        assert got is not None
        return got

    async def set_legal_hold(self, who: Requester, rec_id: str, on: bool) -> Recording:
        """Put a legal hold (audited); pushed to the store at once if it answers.

        ``on=False`` on a held recording is refused with 409 ``two-person-rule`` (nothing changes): a release
        needs a reason and two different people (``POST /v1/release-requests``, kind ``recording_legal_hold``);
        on a recording not held it changes nothing and answers the recording.
        """
        if not on:
            async with self.db.read() as s:
                held = await s.scalar(select(Recording.legal_hold).where(Recording.id == rec_id))
            rec = await self.service.authorize(who, rec_id, "legal_hold",
                                               detail="off: refused, two-person rule" if held else "off: not held")
            if not rec.legal_hold:
                return rec  # nothing to release: idempotent
            raise TwoPersonRule("a legal hold is released by two different people: ask for the release "
                                "with a reason, and a manager approves it",
                                request={"kind": "recording_legal_hold", "recording_id": rec_id})
        await self.service.authorize(who, rec_id, "legal_hold", detail="on")
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = (await s.execute(self.db.for_update(select(Recording).where(Recording.id == rec_id)))).scalar_one()
            if not rec.legal_hold:
                before = hold_snapshot(rec)
                rec.legal_hold, rec.hold_synced, rec.updated_at = True, False, now
                await self.events.record(s, ev.recording_event(ev.RECORDING_HOLD_CHANGED, rec, now, legal_hold=True,
                                                               by=who.principal.user_id))
                await self.service.audit.record(s, actor=who.actor(), action="recording.legal_hold_set",
                                                target_type="recording", target_id=rec.id, client_id=rec.client_id,
                                                before=before, after=hold_snapshot(rec))
        await self.sync_holds()
        async with self.db.read() as s:
            got = await s.get(Recording, rec_id)
        assert got is not None
        return got

    async def sync_holds(self) -> int:
        """Push unsynced legal-hold flags of stored recordings to the store; returns how many."""
        async with self.db.read() as s:
            rows = (await s.execute(select(Recording.id, Recording.key, Recording.version_id, Recording.legal_hold)
                                    .where(Recording.hold_synced.is_(False),
                                           Recording.state == RecordingState.STORED.value).limit(500))).all()
        done = 0
        for rid, key, version, on in rows:
            if key is None:
                continue
            try:
                await self.store.set_legal_hold(key, on, version_id=version)
            except StorageUnavailable as exc:
                log.warning("legal hold of %s not yet pushed to storage: %s", rid, exc.message)
                return done
            async with self.db.begin() as s:
                rec = await s.get(Recording, rid)
                if rec is not None and rec.legal_hold == on:
                    rec.hold_synced = True
            done += 1
        return done
