"""Backup and restore of stored recordings (docs/OPERATIONS.md "Backup and restore").

``copy_store`` copies every current object of one store into another with its Object Lock retention date,
legal hold, content type and SHA-256 (the target store puts it under COMPLIANCE lock and hashes it back).
Object versions get new ids in the target, so after the database is restored next to the copied bucket,
``relink`` points each stored recording row at the version of its key that has its SHA-256, and ``verify``
reads every stored recording back and hashes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from db.engine import Database
from recordings.models import Recording
from recordings.storage import IntegrityFailed, ObjectNotFound, RecordingStore, StoredObject

log = logging.getLogger(__name__)
PAGE = 500
_DAY = timedelta(days=1)


@dataclass
class CopyReport:
    """What ``copy_store`` did, key by key."""

    copied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # the target had the key with the same SHA-256
    expired: list[str] = field(default_factory=list)  # retention over: due for purge, not copied


@dataclass
class RelinkReport:
    """Stored recording rows, by outcome of ``relink``."""

    linked: int = 0
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)  # call ids whose object is absent or hashes otherwise


@dataclass
class VerifyReport:
    """Stored recording rows, by outcome of ``verify`` (call ids)."""

    verified: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def _keys(store: RecordingStore) -> AsyncIterator[str]:
    cursor: str | None = None
    while True:
        page = await store.list_keys(cursor=cursor, limit=1000)
        for key in page.keys:
            yield key
        if page.cursor is None:
            return
        cursor = page.cursor


async def _download(store: RecordingStore, obj: StoredObject, path: Path) -> str:
    """Write ``obj`` to ``path`` (writes off the loop); its SHA-256."""
    digest = hashlib.sha256()
    with await asyncio.to_thread(path.open, "wb") as fh:
        async with await store.open_range(obj.key, version_id=obj.version_id) as body:
            async for chunk in body:
                digest.update(chunk)
                await asyncio.to_thread(fh.write, chunk)
    return digest.hexdigest()


async def copy_store(source: RecordingStore, target: RecordingStore, *, now: datetime | None = None,
                     workdir: Path | None = None) -> CopyReport:
    """Copy every current object of ``source`` into ``target`` with its retention and legal hold.

    Idempotent: a key the target already holds with the same SHA-256 is skipped, so an interrupted copy is
    simply run again. An object whose bytes do not hash to its recorded SHA-256 stops the copy
    (IntegrityFailed): a backup must not launder a damaged recording.
    """
    now = now or datetime.now(UTC)
    report = CopyReport()
    with tempfile.TemporaryDirectory(prefix="callguard-copy-", dir=workdir) as tmp:
        async for key in _keys(source):
            obj = await source.head(key)
            try:
                existing: StoredObject | None = await target.head(key)
            except ObjectNotFound:
                existing = None
            if existing is not None and existing.sha256 == obj.sha256:
                report.already.append(key)
                continue
            if obj.retain_until <= now and not obj.legal_hold:
                report.expired.append(key)
                continue
            path = Path(tmp) / "object"
            actual = await _download(source, obj, path)
            if obj.sha256 and actual != obj.sha256:
                raise IntegrityFailed("a stored recording does not hash to its SHA-256; not copied",
                                      details={"key": key, "version_id": obj.version_id})
            # a held recording whose retention ended is kept as long as it is held: lock it until now + a day
            retain = obj.retain_until if obj.retain_until > now else now.replace(microsecond=0) + _DAY
            await target.put(key, path, sha256=actual, content_type=obj.content_type, retain_until=retain,
                             legal_hold=obj.legal_hold)
            report.copied.append(key)
            await asyncio.to_thread(path.unlink)
    log.info("recordings copied: %d, already there: %d, expired (not copied): %d",
             len(report.copied), len(report.already), len(report.expired))
    return report


async def _stored_rows(db: Database) -> AsyncIterator[Recording]:
    after = ""
    while True:
        async with db.read() as s:
            rows = list((await s.scalars(
                select(Recording).where(Recording.state == "stored", Recording.key.is_not(None),
                                        Recording.id > after).order_by(Recording.id).limit(PAGE))).all())
        for row in rows:
            yield row
        if len(rows) < PAGE:
            return
        after = rows[-1].id


async def relink(db: Database, store: RecordingStore) -> RelinkReport:
    """Point every stored recording row at ``store``'s current version of its key when that version has the
    row's SHA-256 (after a restore, versions have new ids); rows whose object is absent or different are
    listed, never changed."""
    report = RelinkReport()
    async for row in _stored_rows(db):
        assert row.key is not None
        try:
            obj = await store.head(row.key)
        except ObjectNotFound:
            report.missing.append(row.call_id)
            continue
        if obj.sha256 != row.sha256:
            report.missing.append(row.call_id)
            continue
        if obj.version_id == row.version_id:
            report.unchanged += 1
            continue
        async with db.begin() as s:
            await s.execute(update(Recording).where(Recording.id == row.id, Recording.version_id == row.version_id)
                            .values(version_id=obj.version_id))
        report.linked += 1
    if report.missing:
        log.error("%d stored recording(s) have no matching object: %s", len(report.missing),
                  ", ".join(report.missing[:20]))
    return report


async def verify(db: Database, store: RecordingStore) -> VerifyReport:
    """Read every stored recording (its row's key and version) back from ``store`` and hash it."""
    report = VerifyReport()
    async for row in _stored_rows(db):
        assert row.key is not None and row.sha256 is not None
        try:
            ok = await store.verify(row.key, row.sha256, version_id=row.version_id)
        except ObjectNotFound:
            ok = False
        (report.verified if ok else report.failed).append(row.call_id)
    return report



