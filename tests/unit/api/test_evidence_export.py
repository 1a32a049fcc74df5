"""GET /v1/cases/{id}/evidence?format=zip over HTTP, on SQLite and PostgreSQL, with a real LocalStore.

The archive streams: valid bytes (zipfile and the manifest agree with the stored objects), memory
bounded far below the archive's size, the access log written for every recording, the one JSON
error shape before the first byte, an aborted response after it, and nothing left running when
the client goes away midway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from api.app import make_app
from app.compose import build_container
from app.container import Container
from auth.models import Role
from auth.service import OPERATOR, create_user, issue_token
from cases.models import ContactLog
from cases.service import CaseService
from config.settings import load_settings
from core.clock import FakeClock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from recordings.models import Recording, RecordingAccess
from recordings.runtime import RecordingsFeature
from recordings.storage import ByteRange, StorageUnavailable
from recordings.storage.local import LocalStore
from tests.support.doubles import AllowAllGate, RecordingPbx
from tests.unit.cases.test_service import _case

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MiB = 1 << 20


class FailingStore(LocalStore):
    """A LocalStore that can refuse to open one key (an outage hitting one object)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail_key: str | None = None

    async def open_range(self, key: str, start: int = 0, end: int | None = None, *,
                         version_id: str | None = None) -> ByteRange:
        if key == self.fail_key:
            raise StorageUnavailable("injected outage")
        return await super().open_range(key, start, end, version_id=version_id)


@dataclass
class Rig:
    client: TestClient[Any, Any]
    container: Container
    db: Database
    store: FailingStore
    tmp: Path
    case_id: str
    tokens: dict[str, str]
    n: int = 0

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def recording(self, size: int, *, state: str = "stored", days: int = 0) -> str:
        """A stored recording of ``size`` random bytes on a valid collection of the case; its id."""
        self.n += 1
        rid, call_id = f"rec-{self.n}", f"call-{self.n}"
        src = self.tmp / f"src-{self.n}"
        sha = await asyncio.to_thread(_write_random, src, size)
        key = f"2026/03/{call_id}.ogg"
        await self.store.put(key, src, sha256=sha, content_type="audio/ogg", retain_until=T0 + timedelta(days=900))
        await asyncio.to_thread(src.unlink)
        at = T0 - timedelta(days=90 - days)
        async with self.db.begin() as s:
            s.add(Recording(id=rid, call_id=call_id, kind="call", state=state, case_id=self.case_id, client_id="bank1",
                            agent_id="alice", started_at=at, key=key, size=size, sha256=sha,
                            content_type="audio/ogg", format="opus"))
            s.add(ContactLog(call_id=call_id, case_id=self.case_id, at=at, agent_id="alice",
                             number="+8613800138000", number_kind="mobile", connected=True, talk_seconds=90.0,
                             outcome="right_party_contact", recording_id=rid, recording_sha256=sha, extra={}))
        return rid

    async def key(self, recording_id: str) -> str:
        """The storage key of a recording."""
        async with self.db.read() as s:
            rec = await s.get(Recording, recording_id)
        assert rec is not None and rec.key is not None
        return rec.key

    async def access(self) -> list[RecordingAccess]:
        async with self.db.read() as s:
            return list((await s.scalars(select(RecordingAccess).order_by(RecordingAccess.id))).all())


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        while size > 0:
            block = os.urandom(min(size, MiB))  # incompressible, like Opus
            digest.update(block)
            fh.write(block)
            size -= len(block)
    return digest.hexdigest()


@pytest.fixture
async def rig(db: Database, tmp_path: Path) -> AsyncIterator[Rig]:
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = load_settings(None, database={"url": db.url},
                             recordings={"spool_dir": str(spool), "min_free_bytes": 0},
                             storage={"local_root": str(tmp_path / "store")})
    clock = FakeClock(T0)
    tokens = {}
    async with db.begin() as s:
        for uid, role, sip in [("alice", Role.AGENT, "1001"), ("quinn", Role.QA, None), ("ada", Role.ADMIN, None),
                               ("hook", Role.INTEGRATION, None)]:
            await create_user(s, user_id=uid, role=role, sip_user=sip, team="t1",
                              clients=[] if role is Role.ADMIN else ["bank1"])
            tokens[uid] = await issue_token(s, user_id=uid)
    events = EventLog()
    case_id = (await CaseService(db=db, events=events, clock=clock).upsert(
        OPERATOR, client_id="bank1", data=_case())).case_id
    async with TaskGroup() as tasks, FailingStore(tmp_path / "store") as store, RecordingsFeature(
            settings=settings, db=db, events=events, clock=clock, instance="t", store=store,
            run_jobs=False) as feature:
        container = build_container(settings=settings, clock=clock, db=db, events=events, stream=EventStream(db),
                                    tasks=tasks, pbx=RecordingPbx(), gate=AllowAllGate(), recordings=feature)
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Rig(client, container, db, store, tmp_path, case_id, tokens)
        finally:
            await client.close()


def _export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("evidence-zip-")]


def _open_store_files(root: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)):
            found.append(target)
    return found


async def _settled(rig: Rig) -> bool:
    """Wait (bounded) until no export thread runs and no stored file is open."""
    for _ in range(600):
        if not _export_threads() and not _open_store_files(rig.store.root):
            return True
        await asyncio.sleep(0.05)
    return False


def _url(rig: Rig) -> str:
    return f"/v1/cases/{rig.case_id}/evidence"


def _verify(path: Path, expected: dict[str, str]) -> dict[str, Any]:
    """Open the archive from disk, hash every entry against the manifest; the manifest."""
    with zipfile.ZipFile(path) as zf:
        manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            digest = hashlib.sha256()
            with zf.open(entry["file"]) as fh:
                while block := fh.read(MiB):
                    digest.update(block)
            assert digest.hexdigest() == entry["sha256"], entry["file"]
    recs = {e["file"].removeprefix("recordings/"): e["sha256"]
            for e in manifest["files"] if e["file"].startswith("recordings/")}
    assert recs == expected
    return manifest


async def _download(rig: Rig, user: str, dest: Path) -> int:
    """Stream the archive to ``dest`` without holding it in memory; its size."""
    size = 0
    async with rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth(user)) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"] == "application/zip"
        assert r.headers["Content-Disposition"] == f'attachment; filename="evidence-{rig.case_id}.zip"'
        with dest.open("wb") as fh:  # noqa: ASYNC230 - a local test file
            async for chunk in r.content.iter_chunked(256 * 1024):
                fh.write(chunk)
                size += len(chunk)
    return size


async def test_the_streamed_zip_is_valid_and_every_recording_is_logged(rig: Rig) -> None:
    ids = [await rig.recording(700_000), await rig.recording(12_345, days=40), await rig.recording(1, days=60)]
    # the store's own objects (their SHA-256 as stored), not only the rows
    stored = {rid: (await rig.store.head(await rig.key(rid))).sha256 for rid in ids}
    assert all([await rig.store.verify(await rig.key(rid), sha) for rid, sha in stored.items()])  # re-hashed
    dest = rig.tmp / "evidence.zip"
    await _download(rig, "quinn", dest)
    manifest = await asyncio.to_thread(
        _verify, dest, {f"call-{rid.split('-')[1]}-{rid}": stored[rid] for rid in ids})
    assert manifest["case_id"] == rig.case_id
    assert [e["file"] for e in manifest["files"]][-2:] == ["evidence.json", "contacts.json"]
    assert all(e["matches_contact_log"] for e in manifest["files"] if "call_id" in e)
    log = await rig.access()
    assert [(a.recording_id, a.user_id, a.action, a.result) for a in log] == [
        (rid, "quinn", "download", "granted") for rid in ids]
    assert all(a.detail == f"evidence export of case {rig.case_id}" for a in log)
    assert await _settled(rig)


async def test_the_json_form_still_works_and_logs_nothing(rig: Rig) -> None:
    await rig.recording(1000)
    r = await rig.client.get(_url(rig), headers=rig.auth("hook"))
    assert r.status == 200
    doc = await r.json()
    assert doc["case_id"] == rig.case_id and len(doc["valid_collections"]) == 1
    assert await rig.access() == []


async def test_memory_stays_far_below_the_archive_size(rig: Rig) -> None:
    for _ in range(3):
        await rig.recording(24 * MiB)
    dest = rig.tmp / "big.zip"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        size = await _download(rig, "ada", dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"archive {size / MiB:.1f} MiB, peak traced {peak / MiB:.2f} MiB")  # noqa: T201 - shown with -s
    assert size > 72 * MiB
    assert peak < 8 * MiB  # server + client in one process; the old export held ~3x the archive
    await asyncio.to_thread(zipfile.ZipFile(dest).close)
    assert await _settled(rig)


@asynccontextmanager
async def _production_server(rig: Rig) -> AsyncIterator[str]:
    """The app as ``app.compose.serve`` runs it: handlers are not cancelled when the client leaves."""
    runner = web.AppRunner(make_app(rig.container), access_log=None, handler_cancellation=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("handler_cancellation", [True, False], ids=["handler-cancelled", "write-fails"])
async def test_a_client_leaving_midway_stops_the_export(rig: Rig, handler_cancellation: bool,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="api.cases")
    for _ in range(2):
        await rig.recording(16 * MiB)
    async with AsyncExitStack() as stack:
        if handler_cancellation:  # aiohttp's test server cancels the handler on disconnect
            session, base = rig.client.session, str(rig.client.make_url(""))
        else:
            base = await stack.enter_async_context(_production_server(rig))
            session = await stack.enter_async_context(aiohttp.ClientSession())
        async with session.get(base.rstrip("/") + _url(rig), params={"format": "zip"},
                               headers=rig.auth("ada")) as r:
            assert r.status == 200
            got = await r.content.readexactly(MiB)
            assert got[:4] == b"PK\x03\x04"
            assert _export_threads()
            r.close()  # drops the connection mid-body
        assert await _settled(rig), (_export_threads(), _open_store_files(rig.store.root))
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("evidence-zip-")]
    assert not list(rig.tmp.glob("**/tmp*"))  # nothing spooled anywhere
    assert len(await rig.access()) == 2
    if not handler_cancellation:
        assert "the client went away" in caplog.text


async def test_a_failure_after_the_first_byte_aborts_the_response(rig: Rig) -> None:
    await rig.recording(4 * MiB)
    second = await rig.recording(1000, days=40)
    rig.store.fail_key = await rig.key(second)
    async with rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth("ada")) as r:
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert await _settled(rig)


async def test_a_storage_failure_before_the_first_byte_is_a_json_503(rig: Rig) -> None:
    first = await rig.recording(4 * MiB)
    rig.store.fail_key = await rig.key(first)
    r = await rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth("ada"))
    assert r.status == 503
    assert (await r.json())["error"]["code"] == "storage-unavailable"
    assert await _settled(rig)


async def test_the_case_system_may_not_export_audio_and_is_logged_as_denied(rig: Rig) -> None:
    rid = await rig.recording(1000)
    r = await rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth("hook"))
    assert r.status == 403
    body = await r.json()
    assert body["error"]["code"] == "recording-access-denied"
    assert body["error"]["details"]["recording_ids"] == [rid]
    assert [(a.user_id, a.result) for a in await rig.access()] == [("hook", "denied")]


async def test_a_recording_without_stored_audio_is_a_json_409(rig: Rig) -> None:
    await rig.recording(1000)
    pending = await rig.recording(1000, state="pending", days=40)
    r = await rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth("ada"))
    assert r.status == 409
    body = await r.json()
    assert body["error"]["code"] == "recording-not-stored"
    assert body["error"]["details"]["recording_ids"] == [pending]


async def test_a_recording_missing_from_the_database_is_a_json_404(rig: Rig) -> None:
    rid = await rig.recording(1000)
    async with rig.db.begin() as s:
        await s.delete(await s.get(Recording, rid))
    r = await rig.client.get(_url(rig), params={"format": "zip"}, headers=rig.auth("ada"))
    assert r.status == 404
    assert (await r.json())["error"]["code"] == "no-such-recording"
    assert [(a.recording_id, a.result) for a in await rig.access()] == [(rid, "not_found")]
