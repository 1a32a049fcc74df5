"""Completeness: every answered call has a stored recording within ``missing_after_s``; every file has a
call; every object in the store has a recording row (a bounded, resumable scan: ``recordings.storescan``).

Also the safety net of the row lifecycle: answered calls that have no recording row yet (the dialer
hook did not run, or this instance was down) get one, and rows of ended calls move to ``pending``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError

from auth.scope import Scope
from auth.service import Principal
from config.settings import RecordingSettings
from core.clock import Clock
from core.events import DomainEvent, EventLog
from db.base import new_id
from db.engine import Database
from dialer.models import Call
from recordings import events as ev
from recordings.models import Recording, RecordingGap
from recordings.service import on_call_state
from recordings.states import RecordingState
from recordings.storage import RecordingStore
from recordings.storescan import STORE_ORPHAN, StoreScan

log = logging.getLogger(__name__)
_DONE_STATES = (RecordingState.STORED.value, RecordingState.PURGED.value)


class Reconciler:
    """Runs the completeness checks and lists their findings."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, settings: RecordingSettings,
                 store: RecordingStore) -> None:
        self.db, self.events, self.clock, self.settings = db, events, clock, settings
        self.store_scan = StoreScan(db=db, clock=clock, settings=settings, store=store)

    async def run_once(self) -> dict[str, int]:
        """One pass: create missing rows, advance ended ones, record new gaps, scan the next store page(s)."""
        synced = await self._sync_rows()
        missing = await self._find_missing()
        orphans = await self._find_orphans()
        store_orphans = await self.store_scan.run_once()
        return {"synced": synced, "new_missing": missing, "new_orphans": orphans,
                "new_store_orphans": store_orphans}

    async def _sync_rows(self) -> int:
        no_row = ~exists().where(Recording.call_id == Call.id)
        stale = exists().where(and_(Recording.call_id == Call.id,
                                    Recording.state == RecordingState.RECORDING.value))
        q = select(Call.id).where(Call.agent_answered_at.is_not(None),
                                  no_row | (stale & Call.ended_at.is_not(None))).limit(1000)
        async with self.db.read() as s:
            ids = (await s.scalars(q)).all()
        for cid in ids:
            async with self.db.begin() as s:
                call = await s.get(Call, cid)
                if call is not None:
                    await on_call_state(s, call, events=self.events, now=self.clock.now())
        return len(ids)

    async def _find_missing(self) -> int:
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.settings.missing_after_s)
        stored = exists().where(and_(Recording.call_id == Call.id, Recording.state.in_(_DONE_STATES)))
        known = exists().where(and_(RecordingGap.kind == "missing", RecordingGap.ref == Call.id))
        q = select(Call).where(Call.answered_at.is_not(None), Call.ended_at.is_not(None),
                               Call.ended_at <= cutoff, ~stored, ~known).limit(1000)
        async with self.db.read() as s:
            calls = (await s.scalars(q)).all()
        for call in calls:
            async with self.db.read() as s:
                rec = await s.scalar(select(Recording).where(Recording.call_id == call.id))
            detail = f"recording {rec.state}: {rec.last_error or ''}" if rec else "no recording row"
            await self._record_gap("missing", call.id, "db", detail, call=call)
        return len(calls)

    async def _find_orphans(self) -> int:
        known = exists().where(and_(RecordingGap.kind == "orphan", RecordingGap.ref == Recording.call_id))
        q = select(Recording).where(Recording.kind == "orphan", ~known).limit(1000)
        async with self.db.read() as s:
            rows = (await s.scalars(q)).all()
        for rec in rows:
            where = "store" if rec.state == RecordingState.STORED else "spool"
            await self._record_gap("orphan", rec.call_id, where, f"recording {rec.id} ({rec.state}) has no call")
        return len(rows)

    async def _record_gap(self, kind: str, ref: str, where: str, detail: str, *, call: Call | None = None) -> None:
        now = self.clock.now()
        try:
            async with self.db.begin() as s:
                s.add(RecordingGap(id=new_id(), kind=kind, ref=ref, location=where, detail=detail[:2000],
                                   detected_at=now))
                await s.flush()
                if kind == "missing" and call is not None:
                    await self.events.record(s, DomainEvent(
                        type=ev.RECORDING_MISSING, payload={"call_id": ref, "detail": detail[:200]},
                        call_id=ref, case_id=call.case_id, agent_id=call.agent_id, client_id=call.client_id,
                        team=call.team, occurred_at=now))
        except IntegrityError:
            return  # another instance recorded it first: once is enough
        log.warning("recording gap (%s, %s): %s", kind, ref, detail)

    async def gaps(self, principal: Principal, *, open_only: bool = True, kind: str | None = None,
                   limit: int = 500) -> list[RecordingGap]:
        """Gaps newest first (of one kind if given), of ``principal``'s scope.

        A scoped principal sees the ``missing`` gaps of its clients' (and team's) calls; orphans and
        store orphans belong to no client and are shown to a global admin only.
        """
        q = select(RecordingGap)
        scope = Scope.of(principal)
        if not scope.is_everything:
            calls = scope.where_client(select(Call.id), Call.client_id)
            if scope.agent is not None:
                calls = calls.where(Call.agent_id == scope.agent)
            elif scope.team is not None:
                calls = calls.where(Call.team == scope.team)
            q = q.where(RecordingGap.kind == "missing", RecordingGap.ref.in_(calls))
        if kind is not None:
            q = q.where(RecordingGap.kind == kind)
        if open_only:
            q = q.where(RecordingGap.resolved_at.is_(None))
        q = q.order_by(RecordingGap.detected_at.desc(), RecordingGap.id).limit(limit)
        async with self.db.read() as s:
            return list((await s.scalars(q)).all())

    async def counts(self) -> dict[str, Any]:
        """Open gaps per kind and recordings per unfinished state (for /readyz)."""
        async with self.db.read() as s:
            gap_rows = (await s.execute(select(RecordingGap.kind, func.count()).where(
                RecordingGap.resolved_at.is_(None)).group_by(RecordingGap.kind))).all()
            state_rows = (await s.execute(select(Recording.state, func.count()).where(Recording.state.in_(
                [RecordingState.PENDING.value, RecordingState.FAILED.value, RecordingState.RECORDING.value]))
                .group_by(Recording.state))).all()
        gaps = {kind: n for kind, n in gap_rows}
        states = {state: n for state, n in state_rows}
        return {"missing": int(gaps.get("missing", 0)), "orphans": int(gaps.get("orphan", 0)),
                "store_orphans": int(gaps.get(STORE_ORPHAN, 0)),
                "pending": int(states.get("pending", 0)), "failed": int(states.get("failed", 0)),
                "recording": int(states.get("recording", 0))}
