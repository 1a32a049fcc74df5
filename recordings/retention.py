"""Retention: purge what expired and is not on hold, refuse early deletes, legal holds (API and cases)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.service import Principal
from core.clock import Clock
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


async def legal_hold_case(session: AsyncSession, case_id: str, on: bool, actor: str, *,
                          events: EventLog | None = None, now: datetime | None = None) -> int:
    """Hold (or release) every recording of ``case_id`` in the caller's transaction (the cases feature
    calls this when a case is disputed). The store's own hold follows via ``Retention.sync_holds``;
    purge reads the database flag, so the hold protects at once. Returns how many rows changed."""
    at = now or utcnow()
    rows = (await session.scalars(select(Recording).where(Recording.case_id == case_id,
                                                          Recording.legal_hold.is_not(on)))).all()
    who = Principal(user_id=actor[:64], role=Role.INTEGRATION)
    for rec in rows:
        rec.legal_hold, rec.hold_synced, rec.updated_at = on, False, at
        log_access(session, who, at=at, remote=None, recording_id=rec.id, action="legal_hold",
                   result="granted", detail=f"{'on' if on else 'off'} (case {case_id})")
        if events is not None:
            await events.record(session, ev.recording_event(ev.RECORDING_HOLD_CHANGED, rec, at, legal_hold=on,
                                                            by=actor))
    return len(rows)


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
        """Legal hold on/off through the API (audited); pushed to the store at once if it answers."""
        await self.service.authorize(who, rec_id, "legal_hold", detail="on" if on else "off")
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = (await s.execute(self.db.for_update(select(Recording).where(Recording.id == rec_id)))).scalar_one()
            if rec.legal_hold != on:
                rec.legal_hold, rec.hold_synced, rec.updated_at = on, False, now
                await self.events.record(s, ev.recording_event(ev.RECORDING_HOLD_CHANGED, rec, now, legal_hold=on,
                                                               by=who.principal.user_id))
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
