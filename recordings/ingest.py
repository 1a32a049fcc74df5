"""Spool ingest: ``<id>.done`` marker -> validate -> stereo merge -> transcode -> sha256 -> store ->
read back and verify -> row ``stored`` (+ event, + the stored listeners: the case contact log) -> only then
delete spool files.

Crash safety: the row's state and a lease are the claim; the storage key is deterministic and the
transcode bit-exact, so a re-run after a crash between ``put`` and the database update produces
the same bytes, the store's idempotent ``put`` recognises them, and the recording is stored once.
Spool files are deleted only after the ``stored``/``empty`` commit; a crash after that commit just
leaves files that the next scan removes. Storage outages keep the recording ``pending`` and retry
with capped backoff (forever); other failures count attempts and end in ``failed`` (files kept).

Transferred calls: the agent's recording ends with the agent, so the dial plan records the rest on the
customer's channel as segments ``<id>-s1``, ``<id>-s2``... (docs/PBX.md "Transfer"; the call's
``facts["segments"]`` says how many were asked for). Their markers are not recordings of their own: the
call's recording waits until the call has ended and every segment that started is closed, then joins the
parts in order into one recording (agent or target left, customer right throughout).

Barge: the supervisor's voice, recorded on the supervisor's leg while in barge (``<id>-barge-<session>-<n>``,
recordings/barge.py), is added to the agent side of the agent's part at the time it was said; the call's
recording waits until each such file is closed. Listen and whisper are never recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.models import ClientPolicy
from config.settings import RecordingSettings
from core.clock import Clock
from core.errors import UpstreamUnavailable
from core.events import EventLog
from db.base import new_id
from db.engine import Database
from dialer.models import Call
from recordings import barge
from recordings import events as ev
from recordings.audio import (
    AudioFormat,
    InvalidRecording,
    TranscodeFailed,
    WavInfo,
    concat_wavs,
    content_type_for,
    extension_for,
    inspect_wav,
    merge_stereo,
    mix_into,
    sha256_file,
    transcode,
)
from recordings.models import Recording, RecordingGap
from recordings.policy import backoff_s, is_spool_id, recording_key, retain_until, retention_days
from recordings.service import link_to_call
from recordings.states import RecordingState, advance
from recordings.storage import IntegrityFailed, RecordingStore, StorageRefused, StorageUnavailable
from recordings.storescan import STORE_ORPHAN

log = logging.getLogger(__name__)

MARKER = ".done"
SEGMENT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-s[0-9]{1,3}$")
WORK_DIR = ".callguard-work"
Fault = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Claim:
    """What the claim transaction hands to the off-loop work."""

    recording_id: str
    call_id: str
    started_at: datetime
    retain_until: datetime
    legal_hold: bool
    cleanup_only: bool = False
    segments: int = 0


@dataclass(frozen=True, slots=True)
class Prepared:
    """The result of the blocking part: the file to store (or the fact there was no audio)."""

    empty: bool
    path: Path | None = None
    sha256: str = ""
    duration_s: float = 0.0
    channels: int = 0


def spool_files(spool: Path, call_id: str) -> list[Path]:
    """The spool files of one recording, the marker last (it is deleted last)."""
    return [spool / f"{call_id}-rx.wav", spool / f"{call_id}-tx.wav", spool / f"{call_id}.wav",
            spool / f"{call_id}{MARKER}"]


def list_markers(spool: Path) -> list[str]:
    """Call ids with a ``.done`` marker, oldest first (blocking)."""
    try:
        found = [(p.stat().st_mtime, p.name[: -len(MARKER)]) for p in spool.iterdir()
                 if p.name.endswith(MARKER) and p.is_file()]
    except FileNotFoundError:
        return []
    return [cid for _, cid in sorted(found)
            if is_spool_id(cid) and not SEGMENT.match(cid) and not barge.STINT.match(cid)]


def segment_stem(call_id: str, n: int) -> str:
    """The spool stem of a transferred call's ``n``-th segment (recorded on the customer's channel)."""
    return f"{call_id}-s{n}"


def segments_ready(spool: Path, call_id: str, segments: int, call_ended: bool) -> bool:
    """Blocking: may a call with ``segments`` transfer segments be joined now? Only once the call has ended
    and each segment is either closed (its marker) or never started (no file at all)."""
    if segments and not call_ended:
        return False
    for n in range(1, segments + 1):
        *audio, marker = spool_files(spool, segment_stem(call_id, n))
        if not marker.exists() and any(p.exists() for p in audio):
            return False
    return True


def _part(spool: Path, work: Path, stem: str, name: str, *, stereo: bool,
          stints: Sequence[barge.Stint] = ()) -> tuple[Path, WavInfo] | None:
    """One part's audio: its legs merged (agent left, customer right) or its mix; None when it is silent.
    ``stints`` (a barging supervisor's voice) are added to the agent's leg, or to the mix, at their time.
    Raises InvalidRecording when the part has no file at all."""
    rx, tx, mixed, _ = spool_files(spool, stem)
    infos = {p: inspect_wav(p) for p in (rx, tx, mixed) if p.exists()}
    if not infos:
        raise InvalidRecording(mixed, "no recording file next to the marker")
    if all(i.is_empty for i in infos.values()):
        return None
    work.mkdir(parents=True, exist_ok=True)

    def with_stints(path: Path, out: str) -> Path:
        """``path`` with the stints added (in the work dir), or ``path`` itself when there are none."""
        if not stints:
            return path
        ended = path.stat().st_mtime_ns / 1e9
        layers = [(s.path, barge.offset_frames(ended, infos[path], s)) for s in stints]
        mix_into(path, layers, work / out)
        return work / out

    if stereo and rx in infos and tx in infos:
        return work / f"{name}.wav", merge_stereo(with_stints(rx, f"{name}-agent.wav"), tx, work / f"{name}.wav")
    if mixed in infos:
        return with_stints(mixed, f"{name}-mixed.wav"), infos[mixed]
    # mono wanted but no mix: fall back to the legs (stereo), never lose audio
    out = work / f"{name}.wav"
    agent = with_stints(rx, f"{name}-agent.wav") if rx in infos else tx
    return out, merge_stereo(agent, tx if tx in infos else rx, out)


def prepare(spool: Path, work: Path, call_id: str, fmt: AudioFormat, *, bitrate: str, stereo: bool,
            segments: int = 0) -> Prepared:
    """Blocking: validate the legs, merge (agent left, customer right) or take the mix, join a transferred
    call's segments after it (a segment that never started has no file), transcode, hash. A barging
    supervisor's stints go into the agent's part, on the agent side (recordings/barge.py)."""
    parts = [_part(spool, work, call_id, "stereo", stereo=stereo, stints=barge.stints(spool, call_id))]
    for n in range(1, segments + 1):
        stem = segment_stem(call_id, n)
        if any(p.exists() for p in spool_files(spool, stem)[:-1]):
            parts.append(_part(spool, work, stem, f"segment-{n}", stereo=stereo))
    audible = [p for p in parts if p is not None]
    if not audible:
        return Prepared(empty=True)
    if len(audible) == 1:
        src, info = audible[0]
    else:
        src = work / "joined.wav"
        info = concat_wavs([path for path, _ in audible], src)
    out = work / f"recording{extension_for(fmt)}"
    transcode(src, out, fmt, bitrate)
    return Prepared(empty=False, path=out, sha256=sha256_file(out), duration_s=round(info.duration_s, 3),
                    channels=info.channels)


def remove_spool(spool: Path, call_id: str) -> None:
    """Blocking: delete the spool files (marker last) and the work dir."""
    own = re.compile(re.escape(call_id) + r"-s[0-9]{1,3}(-rx|-tx)?\.[a-z0-9]{1,8}")
    segment_files = [p for p in spool.glob(f"{call_id}-s*") if own.fullmatch(p.name)]
    segment_files.sort(key=lambda p: p.name.endswith(MARKER))  # markers last
    for p in [*segment_files, *barge.stint_files(spool, call_id), *spool_files(spool, call_id)]:
        p.unlink(missing_ok=True)
    shutil.rmtree(spool / WORK_DIR / call_id, ignore_errors=True)


class Ingestor:
    """Scans the spool and ingests finished recordings; one per feature, tasks owned by the feature."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, settings: RecordingSettings,
                 store: RecordingStore, executor: ThreadPoolExecutor, instance: str,
                 fault: Fault | None = None, on_stored: Sequence[ev.StoredListener] = ()) -> None:
        self.db, self.events, self.clock, self.settings, self.store = db, events, clock, settings, store
        self.executor, self.instance, self.fault = executor, instance, fault
        self.on_stored = on_stored  # told in the transaction that marks a recording stored (the feature's list)
        self.spool = Path(settings.spool_dir)
        self.work = self.spool / WORK_DIR
        self._inflight: set[str] = set()
        self._sem = asyncio.Semaphore(settings.ingest_concurrency)
        self.storage_error: str | None = None
        self.storage_error_since: datetime | None = None
        self.stored_count = 0

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _step(self, name: str) -> None:
        if self.fault is not None:
            await self.fault(name)

    # -- scanning ---------------------------------------------------------------------------------
    async def scan_once(self) -> int:
        """Ingest every due marker in the spool (bounded concurrency); returns how many were looked at."""
        ids = await self._blocking(list_markers, self.spool)
        due = await self._due(ids)
        todo = [cid for cid in due if cid not in self._inflight]
        if todo:
            await asyncio.gather(*(self._guarded(cid) for cid in todo))
        return len(todo)

    async def _due(self, ids: list[str]) -> list[str]:
        """Drop markers whose row waits for a retry or is leased by another live instance."""
        if not ids:
            return []
        now = self.clock.now()
        blocked: set[str] = set()
        async with self.db.read() as s:
            for chunk in range(0, len(ids), 500):
                rows = (await s.execute(select(Recording.call_id, Recording.state, Recording.next_attempt_at,
                                               Recording.lease_owner, Recording.lease_until)
                                        .where(Recording.call_id.in_(ids[chunk:chunk + 500])))).all()
                for cid, state, nxt, owner, until in rows:
                    waiting = (nxt is not None and nxt > now) or (
                        owner and owner != self.instance and until is not None and until > now)
                    active = state in (RecordingState.PENDING, RecordingState.RECORDING)
                    if state == RecordingState.FAILED or (active and waiting):
                        blocked.add(cid)
        return [cid for cid in ids if cid not in blocked]

    async def _guarded(self, call_id: str) -> None:
        self._inflight.add(call_id)
        try:
            async with self._sem:
                await self.ingest(call_id)
        finally:
            self._inflight.discard(call_id)

    # -- one recording ---------------------------------------------------------------------------
    async def ingest(self, call_id: str) -> str | None:
        """Ingest one marked recording; returns the resulting state (None when claimed elsewhere)."""
        try:
            claim = await self._claim(call_id)
        except IntegrityError:
            # another ingest (a second role on this spool) made the row of a marker without one first:
            # it holds the claim; the next scan sees its row
            log.info("recording of %s claimed by another ingest as its row was made", call_id)
            return None
        if claim is None:
            return None
        if claim.cleanup_only:
            await self._blocking(remove_spool, self.spool, call_id)
            return "cleaned"
        try:
            return await self._process(claim)
        except UpstreamUnavailable:
            raise  # the database: the lease expires and the next scan retries
        except Exception as exc:  # noqa: BLE001 - a bug in one recording must not stop the others
            log.exception("ingest of %s failed unexpectedly", call_id)
            return await self._failed(claim, f"unexpected {type(exc).__name__}: {exc}", permanent=False)

    async def _process(self, claim: Claim) -> str:
        call_id = claim.call_id
        fmt = self.settings.format
        try:
            prepared: Prepared = await self._blocking(functools.partial(
                prepare, self.spool, self.work / call_id, call_id, fmt, bitrate=self.settings.bitrate,
                stereo=self.settings.stereo, segments=claim.segments))
        except InvalidRecording as exc:
            return await self._failed(claim, f"invalid recording: {exc.reason}", permanent=True)
        except (TranscodeFailed, OSError) as exc:
            return await self._failed(claim, f"{type(exc).__name__}: {exc}", permanent=False)
        await self._step("prepared")
        if prepared.empty:
            await self._finish_empty(claim)
            await self._blocking(remove_spool, self.spool, call_id)
            return RecordingState.EMPTY.value
        assert prepared.path is not None
        key = recording_key(call_id, claim.started_at, fmt)
        try:
            stored = await self.store.put(key, prepared.path, sha256=prepared.sha256,
                                          content_type=content_type_for(fmt), retain_until=claim.retain_until,
                                          legal_hold=claim.legal_hold)
            await self._step("put")
            if not await self.store.verify(key, prepared.sha256, version_id=stored.version_id):
                raise IntegrityFailed("read-back does not match", details={"key": key})
            await self._step("verified")
        except StorageUnavailable as exc:
            return await self._retry_storage(claim, exc.message)
        except IntegrityFailed as exc:
            return await self._failed(claim, f"integrity: {exc.message}", permanent=False)
        except StorageRefused as exc:
            return await self._failed(claim, f"storage refused: {exc.message}", permanent=True)
        self._storage_ok()
        await self._finish_stored(claim, key=key, version_id=stored.version_id, size=stored.size,
                                  prepared=prepared, fmt=fmt)
        await self._step("marked")
        await self._blocking(remove_spool, self.spool, call_id)
        self.stored_count += 1
        return RecordingState.STORED.value

    async def _claim(self, call_id: str) -> Claim | None:
        # File checks run outside the transaction or on the default executor, never on ``self.executor``
        # inside it: that executor's threads may be busy transcoding for seconds, and on SQLite the
        # transaction holds the process's write lock all that time, stalling every other writer (the
        # AMI events of every live call: 50 calls hanging up together backed them up by seconds).
        stints_closed = await self._blocking(barge.stints_closed, self.spool, call_id, time.time())
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = await self._row_for_update(s, call_id)
            if rec is None:
                rec = await self._create_row(s, call_id, now)
            if rec.state in (RecordingState.STORED, RecordingState.EMPTY, RecordingState.PURGED):
                return Claim(rec.id, call_id, rec.started_at, now, False, cleanup_only=True)
            if rec.state == RecordingState.FAILED:
                return None
            if rec.lease_owner and rec.lease_owner != self.instance and rec.lease_until and rec.lease_until > now:
                return None
            if rec.next_attempt_at is not None and rec.next_attempt_at > now:
                return None
            call = await s.get(Call, call_id) if rec.kind == "call" else None
            segments = int((call.facts or {}).get("segments") or 0) if call is not None else 0
            if segments and not await asyncio.to_thread(segments_ready, self.spool, call_id, segments,
                                                        call is not None and call.ended_at is not None):
                return None  # a transferred call still talking (or a segment still closing): a later scan
            if not stints_closed:
                return None  # a barging supervisor's leg is still closing its file (file times: wall clock)
            if call is not None:
                link_to_call(rec, call)
            rec.state = advance(rec.state, RecordingState.PENDING).value
            rec.lease_owner, rec.lease_until = self.instance, now + timedelta(seconds=self.settings.lease_s)
            rec.updated_at = now
            policy = await s.get(ClientPolicy, rec.client_id) if rec.client_id else None
            days = retention_days(default_days=self.settings.retention_days,
                                  floor_days=self.settings.retention_floor_days,
                                  client_days=policy.retention_days if policy else None)
            until = retain_until(rec.call_ended_at or now, days)
            return Claim(rec.id, call_id, rec.started_at, until, rec.legal_hold, segments=segments)

    async def _row_for_update(self, s: AsyncSession, call_id: str) -> Recording | None:
        q = self.db.for_update(select(Recording).where(Recording.call_id == call_id))
        return (await s.execute(q)).scalar()

    async def _create_row(self, s: AsyncSession, call_id: str, now: datetime) -> Recording:
        """A marker without a row: the hook did not run (or this is a file of no call: an orphan)."""
        call = await s.get(Call, call_id)
        if call is None:
            rec = Recording(id=new_id(), call_id=call_id, kind="orphan", state=RecordingState.PENDING.value,
                            started_at=now, created_at=now, updated_at=now)
            log.warning("recording %s has no call: ingested as an orphan", call_id)
        else:
            rec = Recording(id=new_id(), call_id=call_id, kind="call", state=RecordingState.PENDING.value,
                            started_at=call.agent_answered_at or call.created_at, created_at=now, updated_at=now)
            link_to_call(rec, call)
        s.add(rec)
        await s.flush()
        return rec

    async def _locked(self, s: AsyncSession, rec_id: str) -> Recording:
        q = self.db.for_update(select(Recording).where(Recording.id == rec_id))
        rec = (await s.execute(q)).scalar_one()
        return rec

    async def _finish_stored(self, claim: Claim, *, key: str, version_id: str | None, size: int,
                             prepared: Prepared, fmt: AudioFormat) -> None:
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = await self._locked(s, claim.recording_id)
            if rec.state == RecordingState.STORED:
                return  # another instance finished the same (idempotent) upload first
            rec.state = advance(rec.state, RecordingState.STORED).value
            rec.key, rec.version_id, rec.size, rec.sha256 = key, version_id, size, prepared.sha256
            rec.format, rec.content_type = fmt, content_type_for(fmt)
            rec.duration_s, rec.channels = prepared.duration_s, prepared.channels
            rec.retain_until, rec.stored_at, rec.updated_at = claim.retain_until, now, now
            rec.lease_owner = rec.lease_until = rec.next_attempt_at = None
            rec.last_error = None
            rec.hold_synced = rec.legal_hold == claim.legal_hold
            await self.events.record(s, ev.recording_event(ev.RECORDING_STORED, rec, now))
            await s.execute(update(RecordingGap).where(
                ((RecordingGap.kind == "missing") & (RecordingGap.ref == rec.call_id))
                | ((RecordingGap.kind == STORE_ORPHAN) & (RecordingGap.ref == key)),
                RecordingGap.resolved_at.is_(None)).values(resolved_at=now))
            for listener in self.on_stored:
                await listener(s, rec)
        log.info("recording %s of call %s stored as %s (%d bytes)", claim.recording_id, claim.call_id, key, size)

    async def _finish_empty(self, claim: Claim) -> None:
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = await self._locked(s, claim.recording_id)
            if rec.state == RecordingState.EMPTY:
                return
            rec.state = advance(rec.state, RecordingState.EMPTY).value
            rec.duration_s, rec.updated_at = 0.0, now
            rec.lease_owner = rec.lease_until = rec.next_attempt_at = None
            await self.events.record(s, ev.recording_event(ev.RECORDING_EMPTY, rec, now))

    async def _failed(self, claim: Claim, error: str, *, permanent: bool) -> str:
        now = self.clock.now()
        async with self.db.begin() as s:
            rec = await self._locked(s, claim.recording_id)
            if rec.state in (RecordingState.STORED, RecordingState.EMPTY):
                log.warning("recording %s: %s after it was %s (spool cleanup retried)", rec.id, error, rec.state)
                return rec.state
            rec.attempts += 1
            rec.last_error, rec.updated_at = error[:2000], now
            rec.lease_owner = rec.lease_until = None
            if permanent or rec.attempts >= self.settings.max_attempts:
                rec.state = advance(rec.state, RecordingState.FAILED).value
                rec.next_attempt_at = None
                await self.events.record(s, ev.recording_event(ev.RECORDING_FAILED, rec, now, error=error[:200]))
                log.error("recording %s of call %s failed: %s (spool files kept)", rec.id, rec.call_id, error)
            else:
                rec.next_attempt_at = now + timedelta(seconds=backoff_s(
                    rec.attempts, cap=self.settings.retry_max_backoff_s))
                log.warning("recording %s: attempt %d failed: %s", rec.id, rec.attempts, error)
            state = rec.state
        return state

    async def _retry_storage(self, claim: Claim, error: str) -> str:
        now = self.clock.now()
        if self.storage_error is None:
            log.warning("recording storage unavailable: %s; recordings wait in the spool", error)
            self.storage_error_since = now
        self.storage_error = error
        async with self.db.begin() as s:
            rec = await self._locked(s, claim.recording_id)
            n = rec.attempts + 1  # storage outages never make a recording 'failed'
            rec.attempts = n
            rec.last_error, rec.updated_at = f"storage unavailable: {error}"[:2000], now
            rec.lease_owner = rec.lease_until = None
            rec.next_attempt_at = now + timedelta(seconds=backoff_s(n, cap=self.settings.retry_max_backoff_s))
        return RecordingState.PENDING.value

    def _storage_ok(self) -> None:
        if self.storage_error is not None:
            log.info("recording storage is back")
        self.storage_error = None
        self.storage_error_since = None

    async def storage_recovered(self) -> None:
        """Storage answers again: make waiting recordings due now instead of at their backoff time."""
        self._storage_ok()
        async with self.db.begin() as s:
            await s.execute(update(Recording).where(Recording.state == RecordingState.PENDING.value,
                                                    Recording.last_error.like("storage unavailable%"))
                            .values(next_attempt_at=None))

    async def release_own_leases(self) -> int:
        """At start-up: leases this instance name held before a crash are void."""
        async with self.db.begin() as s:
            res = await s.execute(update(Recording).where(Recording.lease_owner == self.instance)
                                  .values(lease_owner=None, lease_until=None))
            return int(getattr(res, "rowcount", 0) or 0)

    async def cleanup_work(self) -> None:
        """Remove work dirs of recordings that no longer have a marker (blocking part off the loop)."""
        def _clean() -> None:
            if not self.work.exists():
                return
            for d in self.work.iterdir():
                if not (self.spool / f"{d.name}{MARKER}").exists():
                    with contextlib.suppress(OSError):
                        shutil.rmtree(d)
        await self._blocking(_clean)
