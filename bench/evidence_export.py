"""Evidence zip export: three ways to deliver the same archive, on the same recordings in one run.

- ``in_memory``: the export before streaming (every recording joined in memory, the zip built in a
  BytesIO, then sent): the baseline.
- ``spool``: the streaming zip writer's output spooled to a temporary file, then sent from it.
- ``stream``: the shipped way (``cases.export.stream_zip``): sent as it is written, through a
  buffer of ``MAX_CHUNKS`` x 256 KiB.

For each: time to the first byte a client would get, total time, CPU time, and (in a separate pass
under tracemalloc) the peak of Python allocations. The "client" takes chunks as fast as they come,
or at ``--client-mib-s``;
recordings are random bytes (incompressible, like Opus) in a LocalStore read in 256 KiB chunks.
Runs alternate between the ways; medians are printed with min-max. Nothing is written to
bench/results.json (a one-off design measurement).

    /work/main/.venv/bin/python -m bench.evidence_export [--count 3] [--mib 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import statistics
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cases.evidence import Evidence
from cases.export import ExportPlan, prepare_export, stream_zip
from cases.models import ContactLog
from cases.schemas import contact_json
from recordings.storage.local import LocalStore

MiB = 1 << 20
CHUNK = 256 * 1024
Sink = Callable[[bytes], Awaitable[None]]


class Source:
    """Recordings in a LocalStore, read with its chunked range read."""

    def __init__(self, store: LocalStore, sizes: dict[str, int]) -> None:
        self.store, self.sizes = store, sizes

    async def prepare(self, recording_ids: Sequence[str]) -> dict[str, int | None]:
        return {rid: self.sizes[rid] for rid in recording_ids}

    async def open(self, recording_id: str) -> AsyncGenerator[bytes, None]:
        async with await self.store.open_range(recording_id) as rng:
            async for chunk in rng:
                yield chunk


async def in_memory(ev: Evidence, rows: list[ContactLog], source: Source, sink: Sink) -> float:
    """The pre-streaming export: returns the time of the first byte."""
    files: list[tuple[str, bytes]] = []
    manifest: list[dict[str, Any]] = []
    for row in ev.valid_collections:
        assert row.recording_id is not None
        data = b"".join([c async for c in source.open(row.recording_id)])
        digest = await asyncio.to_thread(lambda d=data: hashlib.sha256(d).hexdigest())
        name = f"recordings/{row.call_id}-{row.recording_id}"
        files.append((name, data))
        manifest.append({"file": name, "sha256": digest, "bytes": len(data)})
    for name, doc in (("evidence.json", ev.to_json()), ("contacts.json", [contact_json(r) for r in rows])):
        data = json.dumps(doc, ensure_ascii=False, indent=2, default=str).encode("utf-8")
        files.append((name, data))
        manifest.append({"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})

    def build() -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in files:
                zf.writestr(name, data)
            zf.writestr("manifest.json", json.dumps({"case_id": ev.case_id, "files": manifest}, indent=2))
        return buf.getvalue()

    blob = await asyncio.to_thread(build)
    first = time.perf_counter()
    view = memoryview(blob)
    for i in range(0, len(blob), CHUNK):  # aiohttp would slice a bytes body the same way
        await sink(bytes(view[i:i + CHUNK]))
    return first


async def spool(plan: ExportPlan, source: Source, sink: Sink, tmp: Path) -> float:
    """Spool the archive to a temporary file, then send the file."""
    fd, name = tempfile.mkstemp(dir=tmp, suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as fh:
            async with stream_zip(plan, source) as chunks:
                async for chunk in chunks:
                    await asyncio.to_thread(fh.write, chunk)
        first = time.perf_counter()
        with open(name, "rb") as fh:  # noqa: ASYNC230 - reads go through to_thread below
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                await sink(chunk)
    finally:
        os.unlink(name)
    return first


async def stream(plan: ExportPlan, source: Source, sink: Sink) -> float:
    """The shipped way: each chunk goes out as soon as it is written."""
    first = 0.0
    async with stream_zip(plan, source) as chunks:
        async for chunk in chunks:
            if not first:
                first = time.perf_counter()
            await sink(chunk)
    return first


async def discard(chunk: bytes) -> None:
    """A client that takes every chunk at once."""


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--mib", type=float, default=32.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--client-mib-s", type=float, default=0.0, help="the client's bandwidth (0: unlimited)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evidence-bench-") as d:
        tmp = Path(d)
        store = LocalStore(tmp / "store")
        sizes: dict[str, int] = {}
        t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        rows = []
        for n in range(args.count):
            size = int(args.mib * MiB)
            data = os.urandom(size)
            src = tmp / "src"
            src.write_bytes(data)
            rid = f"rec-{n}"
            await store.put(rid, src, sha256=hashlib.sha256(data).hexdigest(), content_type="audio/ogg",
                            retain_until=t0 + timedelta(days=1))
            sizes[rid] = size
            rows.append(ContactLog(call_id=f"call-{n}", case_id="case-1", at=t0 + timedelta(days=n), agent_id="a",
                                   number="+8613800138000", number_kind="mobile", connected=True,
                                   talk_seconds=60.0, outcome="right_party_contact", recording_id=rid,
                                   recording_sha256=hashlib.sha256(data).hexdigest(), extra={}))
            del data
        source = Source(store, sizes)
        ev = Evidence("case-1", "open", rows, rows[0], None, None, t0)
        plan = await prepare_export(ev, rows, source)

        ways: dict[str, Callable[[Sink], Awaitable[float]]] = {
            "in_memory": lambda sink: in_memory(ev, rows, source, sink),
            "spool": lambda sink: spool(plan, source, sink, tmp),
            "stream": lambda sink: stream(plan, source, sink),
        }
        results: dict[str, dict[str, list[float]]] = {w: {"ttfb": [], "wall": [], "cpu": [], "peak": []}
                                                      for w in ways}
        archive = 0
        for _ in range(args.repeat):
            for way, run in ways.items():
                got = 0

                async def sink(chunk: bytes) -> None:
                    nonlocal got
                    got += len(chunk)
                    if args.client_mib_s:
                        await asyncio.sleep(len(chunk) / (args.client_mib_s * MiB))

                start, cpu = time.perf_counter(), time.process_time()
                first = await run(sink)
                results[way]["wall"].append(time.perf_counter() - start)
                results[way]["ttfb"].append(first - start)
                results[way]["cpu"].append(time.process_time() - cpu)
                archive = got
                tracemalloc.start()
                await run(discard)
                results[way]["peak"].append(tracemalloc.get_traced_memory()[1] / MiB)
                tracemalloc.stop()
        rate = f"{args.client_mib_s:g} MiB/s" if args.client_mib_s else "unlimited"
        print(f"{args.count} recordings x {args.mib:g} MiB, archive {archive / MiB:.1f} MiB, client {rate}, "
              f"{args.repeat} runs each (median [min-max])")
        for way, r in results.items():
            line = "  ".join(f"{k} {statistics.median(v):7.2f} [{min(v):.2f}-{max(v):.2f}]"
                             for k, v in r.items())
            print(f"  {way:<10} {line}   (s, s, s, MiB)")


if __name__ == "__main__":
    asyncio.run(main())
