"""The store side of completeness: objects in the recording store that no recording row points to.

Bounded and resumable: a run lists at most ``store_scan_pages_per_run`` pages of ``store_scan_page_size``
keys, starting where the last run of any instance stopped; the position is the store's own cursor (the
S3 continuation token) in ``recording_store_scans``, one row per store location. A page's findings and
the advanced position commit in one transaction guarded by a compare-and-set on ``seq``: when two
instances list the same page, one commits and the other drops its (identical) page; a crash between
the listing and the commit lists that page again. Findings are ``store-orphan`` gaps for an operator;
nothing is ever deleted.

A key counts as having a row when a recording's ``key`` is that key, or when the recording of the call
the key is named after (``.../<call id>.<ext>``) is still being ingested or has failed: its ingest
may have put the object and not yet recorded the key, and ingest always creates the row before it
puts, so a listed object of a row-less call is a real orphan.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import RecordingSettings
from core.clock import Clock
from db.base import new_id
from db.engine import Database
from recordings.models import Recording, RecordingGap, RecordingStoreScan
from recordings.states import RecordingState
from recordings.storage import KeyPage, RecordingStore, StorageRefused, StorageUnavailable

log = logging.getLogger(__name__)

STORE_ORPHAN = "store-orphan"
_UNSETTLED = frozenset({RecordingState.RECORDING.value, RecordingState.PENDING.value, RecordingState.FAILED.value})
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PageResult:
    """What one committed page found."""

    keys: int
    new_orphans: int
    pass_done: bool


def call_id_of(key: str) -> str:
    """The call id a recording key is named after: its file name without the extension."""
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def fit(text: str, limit: int) -> str:
    """``text`` as a database string of at most ``limit`` characters.

    Undecodable file-name bytes become ``\\x..`` escapes (one odd file must not stall the scan); an
    over-long value keeps a readable head and the SHA-256 of the whole, so it stays unique.
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[:limit - 72]}#sha256:{digest}"


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class StoreScan:
    """Pages through the store's keys across runs and instances and records keys without a row."""

    def __init__(self, *, db: Database, clock: Clock, settings: RecordingSettings, store: RecordingStore) -> None:
        self.db, self.clock, self.settings, self.store = db, clock, settings, store
        self.location = fit(store.location, 255)
        self.storage_error: str | None = None

    async def run_once(self) -> int:
        """Scan up to ``store_scan_pages_per_run`` pages (stopping at the end of a pass); new gaps found."""
        found = 0
        for _ in range(self.settings.store_scan_pages_per_run):
            result = await self.scan_page()
            if result is None:
                break
            found += result.new_orphans
            if result.pass_done:
                break
        return found

    async def scan_page(self) -> PageResult | None:
        """List one page from the saved position, record its orphans and advance the position.

        None when nothing was committed: the store is unavailable, or another instance took this page.
        """
        seq, cursor = await self._position()
        page = await self._list(seq, cursor)
        if page is None:
            return None
        orphans, owned = await self._classify(page.keys)
        now = self.clock.now()
        try:
            async with self.db.begin() as s:
                if not await self._advance(s, seq, cursor, page, now):
                    return None  # another instance committed this page first
                new = await self._record(s, orphans, owned, now)
        except IntegrityError:
            return None  # another instance recorded the same gap first
        if new:
            log.warning("recording store %s: %d object(s) without a recording row, e.g. %s", self.store.location,
                        new, next(iter(orphans)))
        return PageResult(len(page.keys), new, page.cursor is None)

    async def status(self) -> dict[str, Any]:
        """The scan's position and pass counters (for /readyz)."""
        async with self.db.read() as s:
            row = await s.get(RecordingStoreScan, self.location)
        if row is None:
            return {"location": self.store.location, "passes": 0, "in_pass": False}
        return {"location": self.store.location, "passes": row.passes, "in_pass": row.cursor is not None,
                "pass_keys": row.pass_keys, "pass_started_at": _iso(row.pass_started_at),
                "last_pass_finished_at": _iso(row.last_pass_finished_at), "last_pass_keys": row.last_pass_keys,
                "error": self.storage_error}

    # -- steps ----------------------------------------------------------------------------------
    async def _position(self) -> tuple[int, str | None]:
        async with self.db.read() as s:
            row = await s.get(RecordingStoreScan, self.location)
        if row is not None:
            return row.seq, row.cursor
        try:
            async with self.db.begin() as s:
                s.add(RecordingStoreScan(location=self.location, cursor=None, seq=0, passes=0, pass_keys=0,
                                         updated_at=self.clock.now()))
        except IntegrityError:
            return await self._position()  # another instance created it at the same moment
        return 0, None

    async def _list(self, seq: int, cursor: str | None) -> KeyPage | None:
        try:
            page = await self.store.list_keys(cursor=cursor, limit=self.settings.store_scan_page_size)
        except StorageUnavailable as exc:
            if self.storage_error is None:
                log.warning("store scan paused: %s", exc.message)
            self.storage_error = exc.message
            return None
        except StorageRefused as exc:
            if cursor is None:
                raise
            # the store no longer accepts the saved position (an S3 continuation token is only valid for
            # the listing it came from): start the pass again rather than stall on it for ever
            log.warning("store scan position refused by %s (%s): starting the pass again", self.store.location,
                        exc.message)
            async with self.db.begin() as s:
                await s.execute(update(RecordingStoreScan).where(
                    RecordingStoreScan.location == self.location, RecordingStoreScan.seq == seq)
                    .values(cursor=None, seq=seq + 1, updated_at=self.clock.now()))
            return None
        if self.storage_error is not None:
            log.info("store scan resumed")
            self.storage_error = None
        return page

    async def _classify(self, keys: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """Keys without a row (key -> why) and keys with one; unsettled ingests are in neither."""
        owned: set[str] = set()
        calls: dict[str, tuple[str, str, str | None]] = {}
        refs = [fit(k, 1024) for k in keys]
        async with self.db.read() as s:
            for chunk in _chunks(refs):
                owned.update(k for k in await s.scalars(select(Recording.key).where(Recording.key.in_(chunk)))
                             if k is not None)
            stems = sorted({fit(call_id_of(r), 64) for r in refs if r not in owned})
            for chunk in _chunks(stems):
                rows = await s.execute(select(Recording.call_id, Recording.id, Recording.state, Recording.key)
                                       .where(Recording.call_id.in_(chunk)))
                calls.update((cid, (rid, state, key)) for cid, rid, state, key in rows.all())
        orphans: dict[str, str] = {}
        for ref in refs:
            if ref in owned:
                continue
            cid = fit(call_id_of(ref), 64)
            found = calls.get(cid)
            if found is None:
                orphans[ref] = "object without a recording row"
            elif found[1] not in _UNSETTLED:
                rid, state, key = found
                orphans[ref] = f"object without a recording row; recording {rid} of {cid} is {state} with key {key}"
        return orphans, owned

    async def _advance(self, s: AsyncSession, seq: int, cursor: str | None, page: KeyPage, now: datetime) -> bool:
        """Compare-and-set the position from ``seq`` to the page's end; False if it had moved."""
        n = len(page.keys)
        values: dict[str, Any] = {"cursor": page.cursor, "seq": seq + 1, "updated_at": now}
        if cursor is None:  # this page starts a pass
            values.update(pass_started_at=now, pass_keys=n)
        else:
            values["pass_keys"] = RecordingStoreScan.pass_keys + n
        if page.cursor is None:  # and this one ends it
            values.update(passes=RecordingStoreScan.passes + 1, last_pass_finished_at=now,
                          last_pass_keys=values["pass_keys"])
        res = await s.execute(update(RecordingStoreScan).where(
            RecordingStoreScan.location == self.location, RecordingStoreScan.seq == seq).values(**values))
        return int(getattr(res, "rowcount", 0) or 0) == 1

    async def _record(self, s: AsyncSession, orphans: dict[str, str], owned: set[str], now: datetime) -> int:
        """New (or reopened) gaps for ``orphans``; open gaps of keys that have a row now are resolved."""
        existing: dict[str, RecordingGap] = {}
        for chunk in _chunks(sorted({*orphans, *owned})):
            existing.update((g.ref, g) for g in await s.scalars(select(RecordingGap).where(
                RecordingGap.kind == STORE_ORPHAN, RecordingGap.ref.in_(chunk))))
        new = 0
        for ref, detail in orphans.items():
            gap = existing.get(ref)
            if gap is None:
                s.add(RecordingGap(id=new_id(), kind=STORE_ORPHAN, ref=ref, location="store", detail=detail,
                                   detected_at=now))
                new += 1
            elif gap.resolved_at is not None:  # gone (or linked) once, back again
                gap.resolved_at, gap.detail, gap.detected_at = None, detail, now
                new += 1
        for ref in owned:
            gap = existing.get(ref)
            if gap is not None and gap.resolved_at is None:
                gap.resolved_at = now
        await s.flush()
        return new


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
