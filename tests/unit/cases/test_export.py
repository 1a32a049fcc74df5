"""The streamed evidence zip without a database: layout, ZIP64 headers, failures midway, early exit."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import random
import shutil
import struct
import subprocess
import threading
import zipfile
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cases.evidence import Evidence
from cases.export import ExportPlan, prepare_export, stream_zip
from cases.models import ContactLog
from recordings.storage import StorageUnavailable

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _audio(n: int, size: int) -> bytes:
    return random.Random(n).randbytes(size)  # incompressible, like Opus


class Source:
    """Recordings in memory, served in 64 KiB chunks; can fail on one recording after some bytes."""

    def __init__(self, audio: dict[str, bytes], *, fail: str | None = None, fail_after: int = 0,
                 sizes: dict[str, int | None] | None = None) -> None:
        self.audio, self.fail, self.fail_after = audio, fail, fail_after
        self.sizes = sizes
        self.open_now = 0
        self.closed: list[str] = []

    async def prepare(self, recording_ids: Sequence[str]) -> dict[str, int | None]:
        if self.sizes is not None:
            return self.sizes
        return {rid: len(self.audio[rid]) for rid in recording_ids}

    async def open(self, recording_id: str) -> AsyncGenerator[bytes, None]:
        data = self.audio[recording_id]
        self.open_now += 1
        try:
            for i in range(0, len(data), 65536):
                if recording_id == self.fail and i >= self.fail_after:
                    raise StorageUnavailable("injected outage")
                yield data[i:i + 65536]
        finally:
            self.open_now -= 1
            self.closed.append(recording_id)


def _evidence(audio: dict[str, bytes]) -> tuple[Evidence, list[ContactLog]]:
    rows = [ContactLog(call_id=f"c{i}", case_id="case-1", at=T0, agent_id="a1", number="+8613800138000",
                       number_kind="mobile", connected=True, talk_seconds=60.0, outcome="right_party_contact",
                       recording_id=rid, recording_sha256=hashlib.sha256(data).hexdigest(), extra={})
            for i, (rid, data) in enumerate(audio.items())]
    return Evidence("case-1", "open", rows, rows[0], None, None, T0), rows


async def _plan(audio: dict[str, bytes], source: Source) -> ExportPlan:
    ev, rows = _evidence(audio)
    return await prepare_export(ev, rows, source)


def _check(blob: bytes, audio: dict[str, bytes]) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["file"])).hexdigest() == entry["sha256"]
        recs = {e["call_id"]: e for e in manifest["files"] if "call_id" in e}
        assert {e["sha256"] for e in recs.values()} == {hashlib.sha256(d).hexdigest() for d in audio.values()}
        assert all(e["matches_contact_log"] for e in recs.values())
        return {i.filename: i for i in zf.infolist()}


def _no_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("evidence-zip-")]


async def test_the_layout_and_manifest_of_the_streamed_zip() -> None:
    audio = {"r1": _audio(1, 700_000), "r2": _audio(2, 10)}
    source = Source(audio)
    async with stream_zip(await _plan(audio, source), source, out_chunk=4096) as chunks:
        parts = [c async for c in chunks]
    assert max(len(p) for p in parts) == 4096
    infos = _check(b"".join(parts), audio)
    assert list(infos) == ["recordings/c0-r1", "recordings/c1-r2", "evidence.json", "contacts.json",
                           "manifest.json"]
    assert all(i.compress_type == zipfile.ZIP_DEFLATED and i.date_time == (2025, 3, 1, 9, 30, 0)
               for i in infos.values())
    assert sorted(source.closed) == ["r1", "r2"] and source.open_now == 0
    assert _no_threads()


def _local_header_has_zip64(blob: bytes, info: zipfile.ZipInfo) -> bool:
    off = info.header_offset
    assert blob[off:off + 4] == b"PK\x03\x04"
    name_len, extra_len = struct.unpack("<HH", blob[off + 26:off + 30])
    extra = blob[off + 30 + name_len:off + 30 + name_len + extra_len]
    return extra[:2] == b"\x01\x00"


async def test_entries_announced_past_the_zip64_limit_get_zip64_headers() -> None:
    audio = {"big": _audio(3, 300_000), "small": _audio(4, 1000), "unknown": _audio(5, 5000)}
    source = Source(audio, sizes={"big": 300_000, "small": 1000, "unknown": None})
    async with stream_zip(await _plan(audio, source), source, zip64_from=100_000) as chunks:
        blob = b"".join([c async for c in chunks])
    infos = _check(blob, audio)
    assert _local_header_has_zip64(blob, infos["recordings/c0-big"])
    assert not _local_header_has_zip64(blob, infos["recordings/c1-small"])
    assert _local_header_has_zip64(blob, infos["recordings/c2-unknown"])  # unknown size: ZIP64 to be safe


async def test_info_zip_accepts_the_streamed_archive(tmp_path: Path) -> None:
    """Info-ZIP (installed by scripts/system-deps) tests the archive; a missing unzip fails, never skips."""
    assert shutil.which("unzip") is not None, "unzip missing: run scripts/system-deps"
    audio = {"r1": _audio(6, 200_000), "r2": _audio(7, 3000)}
    source = Source(audio, sizes={"r1": 200_000, "r2": None})
    async with stream_zip(await _plan(audio, source), source, zip64_from=100_000) as chunks:
        blob = b"".join([c async for c in chunks])
    path = tmp_path / "e.zip"
    path.write_bytes(blob)
    done = await asyncio.to_thread(subprocess.run, ["unzip", "-t", str(path)], capture_output=True, text=True,
                                   check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


async def test_a_failure_before_the_first_chunk_is_raised_before_anything_is_sent() -> None:
    audio = {"r1": _audio(8, 100_000)}
    source = Source(audio, fail="r1", fail_after=0)
    async with stream_zip(await _plan(audio, source), source) as chunks:
        with pytest.raises(StorageUnavailable):
            await anext(chunks)
    assert source.closed == ["r1"] and source.open_now == 0
    assert _no_threads()


async def test_a_failure_midway_raises_after_the_sent_part_and_never_sends_an_end_record() -> None:
    audio = {"r1": _audio(9, 600_000), "r2": _audio(10, 600_000)}
    source = Source(audio, fail="r2", fail_after=300_000)
    sent: list[bytes] = []
    async with stream_zip(await _plan(audio, source), source, out_chunk=65536) as chunks:
        with pytest.raises(StorageUnavailable):
            async for c in chunks:
                sent.append(c)
    blob = b"".join(sent)
    assert len(blob) > 600_000  # the first recording went out
    assert b"PK\x05\x06" not in blob and b"PK\x01\x02" not in blob  # no central directory, no end record
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(blob))
    assert sorted(source.closed) == ["r1", "r2"] and source.open_now == 0
    assert _no_threads()


async def test_a_consumer_leaving_midway_closes_the_open_recording_and_ends_the_thread() -> None:
    audio = {"r1": _audio(11, 2_000_000), "r2": _audio(12, 10)}
    source = Source(audio)
    async with stream_zip(await _plan(audio, source), source, out_chunk=65536, max_chunks=2) as chunks:
        await anext(chunks)
        assert source.open_now == 1
    assert source.open_now == 0 and source.closed == ["r1"]  # r2 never opened
    assert _no_threads()


async def test_an_export_without_recordings_needs_no_source() -> None:
    ev, rows = _evidence({"r1": b"x"})
    ev = Evidence("case-1", "open", [], None, None, None, T0)
    async with stream_zip(await prepare_export(ev, rows, None), None) as chunks:
        blob = b"".join([c async for c in chunks])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.namelist() == ["evidence.json", "contacts.json", "manifest.json"]
