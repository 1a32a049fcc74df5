"""The store scan against a real SeaweedFS bucket (Object Lock, versioned) on SQLite and PostgreSQL: a page
per run with the continuation token kept in the database, across a restart of the S3 server and of the
service; objects without a recording row become store-orphan gaps, nothing is deleted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import Principal
from config.settings import Settings, load_settings
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.models import Call
from recordings.models import Recording, RecordingGap, RecordingStoreScan
from recordings.runtime import RecordingsFeature
from recordings.storage.s3 import S3Store
from recordings.storescan import STORE_ORPHAN
from sandbox.seaweed import SeaweedS3
from tests.integration.recordings.storage.conftest import make_store, raw_client
from tests.support.wavgen import tone_samples, write_wav

OPERATOR = Principal("ops", Role.ADMIN)  # a global admin: sees every gap

pytestmark = [pytest.mark.integration]
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
# names whose byte order and SeaweedFS's directory order disagree, and a file of no call at all
STRAYS = ["a/b.ogg", "a-c.ogg", "recordings/2026/05/04-1/x.ogg", "recordings/2026/05/04.txt",
          "recordings/2026/05/04/restored-from-tape.ogg"]


def settings_for(db: Database, tmp: Path) -> Settings:
    return load_settings(None, database={"url": db.url},
                         recordings={"spool_dir": str(tmp / "spool"), "min_free_bytes": 0,
                                     "store_scan_page_size": 2})


def feature(settings: Settings, db: Database, clock: FakeClock, store: S3Store, instance: str) -> RecordingsFeature:
    return RecordingsFeature(settings=settings, db=db, events=EventLog(), clock=clock, instance=instance,
                             store=store, run_jobs=False)


async def ingest_one(f: RecordingsFeature, db: Database, clock: FakeClock, spool: Path) -> str:
    """One answered call recorded and ingested into the bucket; its key."""
    cid = str(uuid.uuid4())
    async with db.begin() as s:
        s.add(Call(id=cid, agent_id="alice", team="t1", requested_by="alice", number="+8613800000001",
                   case_id=None, client_id=None, pbx="local", sip_user="1001", state="ended",
                   created_at=clock.now() - timedelta(seconds=30), facts={},
                   agent_answered_at=clock.now() - timedelta(seconds=25),
                   answered_at=clock.now() - timedelta(seconds=20), ended_at=clock.now(), end_reason="completed"))
    write_wav(spool / f"{cid}-rx.wav", tone_samples(600, 1.0))
    write_wav(spool / f"{cid}-tx.wav", tone_samples(1000, 1.0))
    (spool / f"{cid}.done").touch()
    assert await f.ingest.ingest(cid) == "stored"
    async with db.read() as s:
        key = await s.scalar(select(Recording.key).where(Recording.call_id == cid))
    assert key is not None
    return key


async def position(db: Database) -> RecordingStoreScan:
    async with db.read() as s:
        row = await s.scalar(select(RecordingStoreScan))
    assert row is not None
    return row


async def open_store_orphans(db: Database) -> list[str]:
    async with db.read() as s:
        return sorted((await s.scalars(select(RecordingGap.ref).where(
            RecordingGap.kind == STORE_ORPHAN, RecordingGap.resolved_at.is_(None)))).all())


def versions(raw: Any, bucket: str) -> int:
    return len(raw.list_object_versions(Bucket=bucket).get("Versions", []))


@pytest.fixture
async def weed(tmp_path: Path) -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3(tmp_path / "weed") as server:
        yield server


async def test_store_orphans_in_a_real_bucket_a_page_per_run_across_restarts(weed: SeaweedS3, db: Database,
                                                                            tmp_path: Path) -> None:
    clock = FakeClock(T0)
    settings = settings_for(db, tmp_path)
    bucket = f"scan-{uuid.uuid4().hex[:12]}"
    raw = raw_client(weed)
    try:
        async with make_store(weed, bucket, connect_timeout=1.0) as store:
            await store.ensure_bucket()
            async with feature(settings, db, clock, store, "i1") as f:
                ours = await ingest_one(f, db, clock, tmp_path / "spool")
                for key in STRAYS:
                    raw.put_object(Bucket=bucket, Key=key, Body=b"not written by the service")
                total = versions(raw, bucket)
                assert await f.reconciler.store_scan.scan_page() is not None  # page 1 of 3 (6 keys, 2 a page)
                first = await position(db)
                assert first.cursor and first.seq == 1 and first.pass_keys == 2

                await weed.stop()  # storage down: the scan pauses where it was, the database checks go on
                counts = await f.reconciler.run_once()
                assert counts["new_store_orphans"] == 0 and (await position(db)).seq == 1
                await weed.start()

            async with feature(settings, db, clock, store, "i2") as g:  # another instance, after a restart
                assert await g.reconciler.store_scan.scan_page() is not None  # page 2, from the saved token
                assert await g.reconciler.store_scan.scan_page() is not None  # page 3: the pass ends
                done = await position(db)
                assert (done.passes, done.last_pass_keys, done.cursor, done.seq) == (1, 6, None, 3)
                assert await open_store_orphans(db) == sorted(STRAYS)  # every stray once; ours is not one
                assert ours not in await open_store_orphans(db)
                for _ in range(3):  # a second pass finds nothing new
                    assert (await g.reconciler.run_once())["new_store_orphans"] == 0
                assert (await position(db)).passes == 2
                gaps = await g.reconciler.gaps(OPERATOR, kind=STORE_ORPHAN)
                assert len(gaps) == len(STRAYS) and all(x.location == "store" for x in gaps)
            assert versions(raw, bucket) == total  # nothing deleted
    finally:
        raw.close()
