"""Local-directory recording store: atomic, read-only, no-overwrite files with a JSON sidecar.

Layout under ``root``: ``<key>`` holds the bytes (mode 0444); ``.meta/<key>.json`` (0444) holds
sha256, size, content type, ``retain_until`` and ``legal_hold``; ``.tmp/`` holds files being
written. A plain filesystem cannot enforce retention against root, so this store enforces it in
``delete`` and the service must enforce it too (the DB row is the source of truth for the
service; the sidecar keeps the file self-describing if the DB is lost). Writes are atomic: the
copy goes to ``.tmp``, is fsynced and hash-checked, then hard-linked to its key (``link`` fails
if the key exists, so a concurrent writer cannot clobber it) and the directory is fsynced.
All file IO runs in the default executor via ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from recordings.storage.base import CHUNK_SIZE, ByteRange, KeyPage, StoredObject, resolve_range
from recordings.storage.errors import (
    IntegrityFailed,
    InvalidKey,
    ObjectNotFound,
    RetentionActive,
    StorageRefused,
    StorageUnavailable,
)
from recordings.storage.keys import validate_key

_READ_ONLY = 0o444
_STALE_TMP_S = 3600.0
P = ParamSpec("P")
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("retain_until must be an aware datetime")
    return value.astimezone(UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    """``RecordingStore`` on a local directory (dev, single-host installs, tests)."""

    backend = "local"

    def __init__(self, root: Path, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.root = Path(root).resolve()
        self._clock = clock

    @property
    def location(self) -> str:
        """``file://`` + the resolved root."""
        return self.root.as_uri()

    # -- paths -----------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey("storage key escapes the store root", details={"key": key[:80]})
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / ".meta" / f"{key}.json"

    # -- blocking helpers (run in a thread) ------------------------------------------------
    def _read_meta(self, key: str) -> StoredObject | None:
        try:
            raw = json.loads(self._meta_path(key).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return StoredObject(key=key, version_id=None, size=int(raw["size"]), sha256=raw["sha256"],
                            retain_until=datetime.fromisoformat(raw["retain_until"]),
                            legal_hold=bool(raw["legal_hold"]), content_type=raw["content_type"])

    def _write_meta(self, obj: StoredObject) -> None:
        meta = self._meta_path(obj.key)
        meta.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"key": obj.key, "sha256": obj.sha256, "size": obj.size,
                           "content_type": obj.content_type,
                           "retain_until": obj.retain_until.isoformat(), "legal_hold": obj.legal_hold,
                           "written_at": self._clock().isoformat()}, sort_keys=True)
        tmp = self.root / ".tmp" / f"meta-{uuid.uuid4().hex}"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _READ_ONLY)
        os.replace(tmp, meta)
        _fsync_dir(meta.parent)

    def _existing(self, key: str, path: Path, sha256: str, obj: StoredObject) -> StoredObject:
        """Idempotent put: same bytes already stored -> the stored object; different -> refused."""
        meta = self._read_meta(key)
        stored_sha = meta.sha256 if meta else _hash_file(path)
        if stored_sha != sha256:
            raise StorageRefused("a different recording is already stored under this key",
                                 details={"key": key})
        if meta is None:  # crash between link and sidecar: complete the write
            self._write_meta(obj)
            return obj
        return meta

    def _put_sync(self, key: str, src: Path, obj: StoredObject) -> StoredObject:
        path = self._path(key)
        if path.exists():
            return self._existing(key, path, obj.sha256, obj)
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"data-{uuid.uuid4().hex}"
        if not src.is_file():
            raise ValueError(f"source file missing: {src}")
        try:
            digest = hashlib.sha256()
            size = 0
            with src.open("rb") as fin, tmp.open("xb") as fout:
                while chunk := fin.read(CHUNK_SIZE * 4):
                    digest.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            if digest.hexdigest() != obj.sha256:
                raise IntegrityFailed("source file does not match the given sha256",
                                      details={"key": key, "expected": obj.sha256,
                                               "actual": digest.hexdigest()})
            os.chmod(tmp, _READ_ONLY)
            path.parent.mkdir(parents=True, exist_ok=True)
            obj = StoredObject(key=key, version_id=None, size=size, sha256=obj.sha256,
                               retain_until=obj.retain_until, legal_hold=obj.legal_hold,
                               content_type=obj.content_type)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return self._existing(key, path, obj.sha256, obj)
            _fsync_dir(path.parent)
        finally:
            tmp.unlink(missing_ok=True)
        self._write_meta(obj)
        return obj

    def _head_sync(self, key: str) -> StoredObject:
        path = self._path(key)
        meta = self._read_meta(key)
        if meta is None or not path.exists():
            raise ObjectNotFound("no recording object under this key", details={"key": key})
        return meta

    def _delete_sync(self, key: str) -> None:
        obj = self._head_sync(key)
        now = self._clock()
        if obj.legal_hold or obj.retain_until > now:
            raise RetentionActive("recording is under retention or legal hold",
                                  details={"key": key, "retain_until": obj.retain_until.isoformat(),
                                           "legal_hold": obj.legal_hold})
        self._path(key).unlink()
        self._meta_path(key).unlink(missing_ok=True)

    def _health_sync(self) -> dict[str, Any]:
        probe = self.root / ".tmp" / f"health-{uuid.uuid4().hex}"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
            usage = shutil.disk_usage(self.root)
        except OSError as exc:
            return {"status": "down", "backend": self.backend, "root": str(self.root), "error": str(exc)}
        return {"status": "ok", "backend": self.backend, "root": str(self.root),
                "free_bytes": usage.free, "worm": "service-enforced"}

    # -- RecordingStore --------------------------------------------------------------------
    async def put(self, key: str, path: Path, *, sha256: str, content_type: str,
                  retain_until: datetime, legal_hold: bool = False) -> StoredObject:
        """Store ``path`` under ``key``: atomic, read-only, idempotent for the same sha256."""
        self._path(key)
        obj = StoredObject(key=key, version_id=None, size=0, sha256=sha256.lower(),
                           retain_until=_require_aware(retain_until), legal_hold=legal_hold,
                           content_type=content_type)
        return await self._run(self._put_sync, key, Path(path), obj)

    async def head(self, key: str, *, version_id: str | None = None) -> StoredObject:
        """Metadata from the sidecar (``version_id`` is ignored: local files have one version)."""
        return await self._run(self._head_sync, key)

    async def open_range(self, key: str, start: int = 0, end: int | None = None, *,
                         version_id: str | None = None) -> ByteRange:
        """Open ``start..end`` (inclusive) of the file for chunked streaming."""
        obj = await self.head(key)
        first, last = resolve_range(start, end, obj.size)
        return ByteRange(start=first, end=last, total_size=obj.size, content_type=obj.content_type,
                         chunks=self._chunks(self._path(key), first, last))

    async def _chunks(self, path: Path, first: int, last: int) -> AsyncIterator[bytes]:
        fh = await self._run(path.open, "rb")
        try:
            await self._run(fh.seek, first)
            remaining = last - first + 1
            while remaining > 0:
                chunk = await self._run(fh.read, min(CHUNK_SIZE, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(fh.close)

    async def verify(self, key: str, sha256: str, *, version_id: str | None = None) -> bool:
        """Re-hash the stored file and compare with ``sha256``."""
        path = self._path(key)
        await self.head(key)
        return await self._run(_hash_file, path) == sha256.lower()

    async def set_legal_hold(self, key: str, on: bool, *, version_id: str | None = None) -> None:
        """Rewrite the sidecar with the new legal-hold flag."""
        def _set() -> None:
            obj = self._head_sync(key)
            self._write_meta(StoredObject(key=key, version_id=None, size=obj.size, sha256=obj.sha256,
                                          retain_until=obj.retain_until, legal_hold=on,
                                          content_type=obj.content_type))
        await self._run(_set)

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Remove the file after ``retain_until`` and without legal hold, else ``RetentionActive``."""
        await self._run(self._delete_sync, key)

    async def health(self) -> dict[str, Any]:
        """Writable root and free space."""
        return await asyncio.to_thread(self._health_sync)

    async def list_keys(self, *, cursor: str | None = None, limit: int = 1000) -> KeyPage:
        """Regular files under the root (not ``.meta``/``.tmp`` or other dot names) in path-component
        order; the cursor is the last key returned. Resuming reads only the directories on the
        cursor's path and what follows it, never the whole tree."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        return await self._run(self._list_sync, cursor, limit)

    def _list_sync(self, cursor: str | None, limit: int) -> KeyPage:
        keys: list[str] = []
        for key in _walk(self.root, (), tuple(cursor.split("/")) if cursor else ()):
            if len(keys) == limit:  # one more exists: the page is full and not the last
                return KeyPage(tuple(keys), keys[-1])
            keys.append(key)
        return KeyPage(tuple(keys), None)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking file IO in a thread; an OS-level failure means the storage is unusable."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except FileNotFoundError as exc:
            raise ObjectNotFound("no recording object under this key") from exc
        except OSError as exc:
            raise StorageUnavailable(f"local storage error: {exc}") from exc

    async def __aenter__(self) -> LocalStore:
        await asyncio.to_thread(_clean_stale_tmp, self.root / ".tmp")
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def _walk(directory: Path, parts: tuple[str, ...], after: tuple[str, ...]) -> Iterator[str]:
    """Keys under ``directory`` in component order, strictly after the key whose components are ``after``.

    Component order (``a/z`` before ``a-b``, because directory ``a`` sorts before ``a-b``) lets a listing
    resume by descending only along ``after``: entries before its component at this depth are skipped,
    the equal directory is entered with the same bound, later entries are listed whole.
    """
    depth = len(parts)
    bound = after[depth] if depth < len(after) else None
    try:
        with os.scandir(directory) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if bound is not None and entry.name < bound:
            continue
        here = (*parts, entry.name)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), here, after if entry.name == bound else ())
        elif entry.is_file(follow_symlinks=False) and entry.name != bound:
            yield "/".join(here)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _clean_stale_tmp(tmp_dir: Path) -> None:
    """Create ``.tmp`` and remove hour-old leftovers of interrupted writes (stored files live outside)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - _STALE_TMP_S
    for leftover in tmp_dir.iterdir():
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
