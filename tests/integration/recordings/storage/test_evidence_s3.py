"""The evidence zip streamed from a real S3 (SeaweedFS): valid archive, bounded memory, bodies released."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import tracemalloc
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from auth.models import Role
from auth.service import Principal
from cases.evidence import Evidence
from cases.export import ExportPlan, prepare_export, stream_zip
from cases.models import ContactLog
from recordings.export import ExportRecordings
from recordings.service import Requester
from recordings.storage.s3 import S3Store

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
MiB = 1 << 20
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class StoredRec:
    id: str
    key: str
    size: int
    sha256: str
    version_id: str | None
    state: str = "stored"


class Service:
    """Just what ExportRecordings needs from RecordingService: the store and an access decision."""

    def __init__(self, store: S3Store, recs: dict[str, StoredRec]) -> None:
        self.store, self.recs = store, recs

    async def authorize_all(self, who: Requester, ids: Sequence[str], action: str, *,
                            detail: str | None = None) -> list[StoredRec]:
        return [self.recs[i] for i in ids]


async def _put(store: S3Store, tmp_path: Path, n: int, size: int) -> StoredRec:
    path = tmp_path / f"r{n}"
    data = os.urandom(size)
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    key = f"evidence/{uuid.uuid4().hex}.ogg"
    obj = await store.put(key, path, sha256=sha, content_type="audio/ogg",
                          retain_until=(datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0))
    return StoredRec(f"rec-{n}", key, size, sha, obj.version_id)


async def _export(store: S3Store, recs: list[StoredRec]) -> tuple[ExportPlan, ExportRecordings]:
    rows = [ContactLog(call_id=f"call-{i}", case_id="case-1", at=T0, agent_id="a1", number="+8613800138000",
                       number_kind="mobile", connected=True, talk_seconds=60.0, outcome="right_party_contact",
                       recording_id=r.id, recording_sha256=r.sha256, extra={}) for i, r in enumerate(recs)]
    service = Service(store, {r.id: r for r in recs})
    source = ExportRecordings(cast(Any, service), Requester(Principal("ada", Role.ADMIN)), purpose="test")
    plan = await prepare_export(Evidence("case-1", "open", rows, rows[0], None, None, T0), rows, source)
    return plan, source


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("evidence-zip-")]


async def test_a_streamed_export_from_s3_is_valid_and_memory_stays_bounded(store: S3Store, tmp_path: Path) -> None:
    recs = [await _put(store, tmp_path, n, 12 * MiB) for n in range(3)]
    plan, source = await _export(store, recs)
    dest = tmp_path / "evidence.zip"
    size = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with dest.open("wb") as fh:  # noqa: ASYNC230 - a local test file
            async with stream_zip(plan, source) as chunks:
                async for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"archive {size / MiB:.1f} MiB from S3, peak traced {peak / MiB:.2f} MiB")  # noqa: T201 - with -s
    assert size > 36 * MiB
    with zipfile.ZipFile(dest) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["file"])).hexdigest() == entry["sha256"]
    assert [e["sha256"] for e in manifest["files"][:3]] == [r.sha256 for r in recs]
    assert peak < 4 * MiB, peak
    assert not _threads()


async def test_leaving_early_releases_the_s3_bodies(store: S3Store, tmp_path: Path) -> None:
    recs = [await _put(store, tmp_path, n, 8 * MiB) for n in range(2)]
    for _ in range(6):  # more than the store's 4 pooled connections: a leaked body would block the next
        plan, source = await _export(store, recs)
        async with stream_zip(plan, source, max_chunks=1) as chunks:
            await anext(chunks)
        assert not _threads()
    plan, source = await _export(store, recs)
    async with stream_zip(plan, source) as chunks:
        blob = b"".join([c async for c in chunks])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None
