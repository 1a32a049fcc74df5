"""The storage interface every recording backend implements, and its value types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from recordings.storage.errors import RangeNotSatisfiable

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored recording object (``version_id`` is None where the backend has no versions)."""

    key: str
    version_id: str | None
    size: int
    sha256: str
    retain_until: datetime
    legal_hold: bool = False
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class KeyPage:
    """One page of a store's key listing.

    ``cursor`` is where the next page starts, opaque to the caller (an S3 continuation token, the
    local store's last key) and safe to persist between runs; ``None`` once the listing is complete.
    """

    keys: tuple[str, ...]
    cursor: str | None


class ByteRange:
    """An open byte range of an object: sizes for the HTTP headers, then chunks.

    ``start``/``end`` are inclusive offsets as in HTTP ``Content-Range``; ``total_size`` is the
    whole object. Iterate with ``async for``; always close (``async with`` does it).
    """

    def __init__(self, *, start: int, end: int, total_size: int, content_type: str,
                 chunks: AsyncIterator[bytes]) -> None:
        self.start = start
        self.end = end
        self.total_size = total_size
        self.content_type = content_type
        self._chunks = chunks

    @property
    def length(self) -> int:
        """Number of bytes in the range."""
        return self.end - self.start + 1 if self.total_size else 0

    @property
    def content_range(self) -> str:
        """Value of the HTTP ``Content-Range`` header."""
        return f"bytes {self.start}-{self.end}/{self.total_size}"

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        """Release the underlying file or HTTP stream."""
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


def resolve_range(start: int, end: int | None, total: int) -> tuple[int, int]:
    """Clamp an HTTP-style inclusive range to ``total`` bytes; ``RangeNotSatisfiable`` if outside."""
    if total == 0 and start == 0 and end is None:
        return 0, -1
    if start < 0 or start >= total or (end is not None and end < start):
        raise RangeNotSatisfiable(f"range {start}-{'' if end is None else end} outside 0-{total - 1}",
                                  details={"total_size": total})
    return start, total - 1 if end is None else min(end, total - 1)


@runtime_checkable
class RecordingStore(Protocol):
    """Write-once recording storage. Every method is async and never blocks the event loop.

    Range reads stream: ``open_range`` returns a ``ByteRange`` whose sizes are known before the
    first chunk, so an HTTP handler can answer 206 with ``Content-Range`` and stream the body in
    ``CHUNK_SIZE`` pieces without loading the file.
    """

    async def put(self, key: str, path: Path, *, sha256: str, content_type: str,
                  retain_until: datetime, legal_hold: bool = False) -> StoredObject:
        """Store ``path`` under ``key`` write-once; idempotent for the same content, refused otherwise."""
        ...

    async def open_range(self, key: str, start: int = 0, end: int | None = None, *,
                         version_id: str | None = None) -> ByteRange:
        """Open bytes ``start..end`` (inclusive, ``end=None`` = to the end) for streaming."""
        ...

    async def head(self, key: str, *, version_id: str | None = None) -> StoredObject:
        """Metadata of a stored object; ``ObjectNotFound`` if absent."""
        ...

    async def verify(self, key: str, sha256: str, *, version_id: str | None = None) -> bool:
        """Read the object back and compare its SHA-256 with ``sha256``."""
        ...

    async def set_legal_hold(self, key: str, on: bool, *, version_id: str | None = None) -> None:
        """Set or clear the legal hold of an object."""
        ...

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Remove an object; ``RetentionActive`` while retained or on legal hold."""
        ...

    async def health(self) -> dict[str, Any]:
        """A JSON-able health summary; never raises (``{"status": "ok"|"down"|"degraded", ...}``)."""
        ...

    @property
    def location(self) -> str:
        """Where the objects live (``file:///root``, ``s3://bucket/prefix``): names a scan position."""
        ...

    async def list_keys(self, *, cursor: str | None = None, limit: int = 1000) -> KeyPage:
        """Up to ``limit`` keys from ``cursor`` on (the start when None), in the backend's listing order.

        Every key present for the whole listing is returned exactly once across the pages; internal
        files of the backend are not keys. Never loads more than one page.
        """
        ...
