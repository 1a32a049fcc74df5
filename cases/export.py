"""The evidence zip export, written in a worker thread and streamed with bounded memory.

Layout: ``recordings/<call id>-<recording id>`` for the recording of each valid collection, then
``evidence.json``, ``contacts.json`` and last ``manifest.json`` (``{"case_id", "files": [{"file",
"sha256", "bytes", ...}]}``; recordings also carry ``call_id``, ``contact_log_sha256`` and
``matches_contact_log``), every entry deflated.

``prepare_export`` runs on the loop before the first byte: the recording source authorises (and
logs) every recording and gives its size, so refusals still get the one JSON error shape.
``stream_zip`` then writes the archive with ``zipfile`` in its own thread (``core.threadstream``):
recordings are read from the source chunk by chunk on the loop, hashed and compressed in the
thread, and the archive leaves in ``OUT_CHUNK`` pieces through a buffer of ``MAX_CHUNKS``, so a
request holds about (MAX_CHUNKS + 2) x 256 KiB plus zlib's state, whatever the archive's size.
The output is not seekable, so each entry's CRC and sizes follow its data in a data descriptor;
an entry whose size reaches ``zip64_from`` (or is unknown) gets ZIP64 headers, and zipfile
switches the central directory to ZIP64 by itself past 4 GiB or 65,535 entries.

If reading or writing fails midway, nothing more is emitted (no end record): the consumer raises
the error and the HTTP response is aborted, so a truncated archive never looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Protocol, cast

from cases.evidence import Evidence
from cases.models import ContactLog
from cases.schemas import contact_json
from core.threadstream import ProducerContext, ThreadStream

OUT_CHUNK = 256 * 1024
MAX_CHUNKS = 4


class RecordingSource(Protocol):
    """Where the export's recordings come from (``recordings.export.ExportRecordings``)."""

    async def prepare(self, recording_ids: Sequence[str]) -> dict[str, int | None]:
        """Authorise (and log) the export of these recordings; their sizes. Raises if one cannot be."""
        ...

    def open(self, recording_id: str) -> AsyncGenerator[bytes, None]:
        """A prepared recording's bytes in chunks (an async generator)."""
        ...


@dataclass(frozen=True, slots=True)
class RecordingEntry:
    """One recording to put in the archive."""

    file: str
    recording_id: str
    call_id: str
    size: int | None
    contact_log_sha256: str | None


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Everything the archive will hold, fixed (and authorised) before the first byte."""

    case_id: str
    date_time: tuple[int, int, int, int, int, int]
    recordings: list[RecordingEntry]
    documents: list[tuple[str, Any]]


async def prepare_export(ev: Evidence, all_contacts: list[ContactLog], source: RecordingSource | None) -> ExportPlan:
    """Authorise the valid collections' recordings through ``source`` (logged) and fix the archive's content."""
    rows = [(r, r.recording_id) for r in ev.valid_collections if r.recording_id is not None]
    sizes: dict[str, int | None] = {}
    if rows:
        if source is None:
            raise ValueError("a recording source is needed for an export with recordings")
        sizes = await source.prepare([rid for _, rid in rows])
    entries = [RecordingEntry(file=f"recordings/{r.call_id}-{rid}", recording_id=rid, call_id=r.call_id,
                              size=sizes.get(rid), contact_log_sha256=r.recording_sha256) for r, rid in rows]
    docs: list[tuple[str, Any]] = [("evidence.json", ev.to_json()),
                                   ("contacts.json", [contact_json(r) for r in all_contacts])]
    when = ev.now.timetuple()[:6]
    return ExportPlan(ev.case_id, (when[0], when[1], when[2], when[3], when[4], when[5]), entries, docs)


def stream_zip(plan: ExportPlan, source: RecordingSource | None, *, max_chunks: int = MAX_CHUNKS,
               out_chunk: int = OUT_CHUNK, zip64_from: int = zipfile.ZIP64_LIMIT) -> ThreadStream:
    """The archive as a ``ThreadStream`` of chunks (``async with stream_zip(...) as chunks``)."""
    produce = partial(write_zip, plan=plan, source=source, out_chunk=out_chunk, zip64_from=zip64_from)
    return ThreadStream(produce, max_chunks=max_chunks, name=f"evidence-zip-{plan.case_id}")


class _Sink:
    """The archive's file object: gathers zipfile's writes into ``size``-byte chunks for ``emit``."""

    def __init__(self, emit: Callable[[bytes], None], size: int) -> None:
        self._emit, self._size = emit, size
        self._buf = bytearray()
        self._abandoned = False

    def write(self, data: bytes) -> int:
        if not self._abandoned:
            self._buf += data
            while len(self._buf) >= self._size:
                self._emit(bytes(self._buf[:self._size]))
                del self._buf[:self._size]
        return len(data)

    def flush(self) -> None:
        if self._buf and not self._abandoned:
            self._emit(bytes(self._buf))
            self._buf.clear()

    def abandon(self) -> None:
        """Drop what is buffered and everything written from now on (after a failure)."""
        self._abandoned = True
        self._buf.clear()


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    return await anext(chunks, None)


def write_zip(ctx: ProducerContext, *, plan: ExportPlan, source: RecordingSource | None,
              out_chunk: int = OUT_CHUNK, zip64_from: int = zipfile.ZIP64_LIMIT) -> None:
    """Write the archive into ``ctx`` (BLOCKING: runs in the stream's thread)."""
    _ZipWriter(ctx, plan, source, out_chunk=out_chunk, zip64_from=zip64_from).write()


class _ZipWriter:
    def __init__(self, ctx: ProducerContext, plan: ExportPlan, source: RecordingSource | None, *,
                 out_chunk: int, zip64_from: int) -> None:
        self.ctx, self.plan, self.source, self.zip64_from = ctx, plan, source, zip64_from
        self.sink = _Sink(ctx.emit, out_chunk)

    def write(self) -> None:
        zf = zipfile.ZipFile(cast(IO[bytes], self.sink), "w", compression=zipfile.ZIP_DEFLATED)  # write+flush do
        try:
            manifest = [self._recording(zf, entry) for entry in self.plan.recordings]
            for name, doc in self.plan.documents:
                data = json.dumps(doc, ensure_ascii=False, indent=2, default=str).encode("utf-8")
                zf.writestr(self._info(name), data)
                manifest.append({"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
            zf.writestr(self._info("manifest.json"),
                        json.dumps({"case_id": self.plan.case_id, "files": manifest}, indent=2))
            zf.close()
            self.sink.flush()
        except BaseException:
            self.sink.abandon()  # no end record: a truncated archive must not look complete
            with contextlib.suppress(Exception):
                zf.close()
            raise

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.plan.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def _recording(self, zf: zipfile.ZipFile, entry: RecordingEntry) -> dict[str, Any]:
        assert self.source is not None
        info = self._info(entry.file)
        info.file_size = entry.size or 0  # lets zipfile choose ZIP64 headers; None -> force them
        digest = hashlib.sha256()
        size = 0
        chunks = self.source.open(entry.recording_id)
        out = zf.open(info, "w", force_zip64=entry.size is None or entry.size >= self.zip64_from)
        try:
            while (chunk := self.ctx.call(_next(chunks))) is not None:
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        except BaseException:
            self.sink.abandon()  # first: the entry's data descriptor must not reach the client
            with contextlib.suppress(Exception):
                out.close()
            with contextlib.suppress(Exception):
                self.ctx.call(chunks.aclose(), cleanup=True)
            raise
        out.close()
        self.ctx.call(chunks.aclose(), cleanup=True)
        sha = digest.hexdigest()
        return {"file": entry.file, "sha256": sha, "bytes": size, "call_id": entry.call_id,
                "contact_log_sha256": entry.contact_log_sha256,
                "matches_contact_log": sha == entry.contact_log_sha256}
