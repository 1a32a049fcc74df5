"""Backup and restore (docs/OPERATIONS.md): real recordings ingested from the spool into SeaweedFS on PostgreSQL,
``pg_dump -Fc`` and ``callguard recordings-backup`` into a second bucket (Object Lock retention and legal hold
kept), ``pg_restore`` into an empty database, ``callguard recordings-relink`` and ``recordings-verify``, then a new
service instance finds every recording by its call and serves bytes that hash to its SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from botocore.exceptions import ClientError
from sqlalchemy import select

from api.app import make_app
from app.compose import compose
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from core.clock import Clock
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from dialer.models import Call
from recordings.models import Recording
from recordings.retention import hold_recording
from recordings.runtime import RecordingsFeature
from sandbox.seaweed import SeaweedS3
from tests.integration.recordings.storage.conftest import make_store, raw_client
from tests.support import pgdb
from tests.support.wavgen import tone_samples, write_wav

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[4]
CALLS = 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _settings(url: str, weed: SeaweedS3, bucket: str, spool: Path) -> dict[str, Any]:
    return {"database": {"url": url}, "server": {"instance_id": f"restore-{bucket}"},
            "pbx": [{"name": "local", "ami_port": _closed_port()}],
            "recordings": {"spool_dir": str(spool), "min_free_bytes": 0},
            "storage": {"backend": "s3", "s3_bucket": bucket, "s3_endpoint_url": weed.endpoint_url,
                        "s3_region": weed.region, "s3_access_key": weed.access_key,
                        "s3_secret_key": weed.secret_key, "s3_max_workers": 4}}


def _env(settings: dict[str, Any]) -> dict[str, str]:
    """The same settings as the environment of a ``callguard`` command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD")}
    env["PYTHONPATH"] = str(ROOT)
    for section, values in settings.items():
        if isinstance(values, list):
            env[f"CALLGUARD__{section.upper()}"] = json.dumps(values)
            continue
        for key, value in values.items():
            env[f"CALLGUARD__{section.upper()}__{key.upper()}"] = str(value)
    return env


async def _run(*cmd: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = await asyncio.to_thread(subprocess.run, list(cmd), env=env, cwd=cwd, capture_output=True, text=True,
                                   timeout=240, check=False)
    assert done.returncode == 0, f"{cmd[:4]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _record_calls(url: str, weed: SeaweedS3, bucket: str, spool: Path) -> dict[str, Recording]:
    """``CALLS`` ended calls whose recordings are ingested for real (WAV legs in the spool -> ffmpeg -> S3);
    the first is put under legal hold. The rows by call id."""
    settings = load_settings(None, **_settings(url, weed, bucket, spool))
    clock = Clock()
    async with Database(settings.database) as db, make_store(weed, bucket) as store:
        await migrate(db)
        await store.ensure_bucket()
        feature = RecordingsFeature(settings=settings, db=db, events=EventLog(), clock=clock, instance="rec",
                                    store=store, run_jobs=False)
        async with feature as f:
            for i in range(CALLS):
                at = clock.now()
                call = Call(id=str(uuid.uuid4()), agent_id="alice", team="t1", requested_by="alice",
                            number="+8613800000001", case_id=f"case-{i}", client_id="bank-a", pbx="local",
                            sip_user="1001", state="ended", created_at=at - timedelta(seconds=30), facts={},
                            agent_answered_at=at - timedelta(seconds=25), answered_at=at - timedelta(seconds=20),
                            ended_at=at, end_reason="completed")
                async with db.begin() as s:
                    s.add(call)
                write_wav(spool / f"{call.id}-rx.wav", tone_samples(600, 1.0))
                write_wav(spool / f"{call.id}-tx.wav", tone_samples(1000, 1.0))
                write_wav(spool / f"{call.id}.wav", tone_samples(800, 1.0))
                (spool / f"{call.id}.done").touch()
                assert await f.ingest.ingest(call.id) == "stored"
        async with db.begin() as s:
            rows = {r.call_id: r for r in (await s.scalars(select(Recording))).all()}
            held = min(rows)
            assert await hold_recording(s, rows[held], "legal", detail="dispute")
        rec = rows[held]
        assert rec.key is not None
        await store.set_legal_hold(rec.key, True, version_id=rec.version_id)
        async with db.read() as s:
            return {r.call_id: r for r in (await s.scalars(select(Recording))).all()}


async def test_a_restore_into_an_empty_database_finds_and_verifies_every_recording(weed: SeaweedS3,
                                                                                   tmp_path: Path) -> None:
    source_url, source_db = await pgdb.create_pg_database()
    restored_url, restored_db = await pgdb.create_pg_database()
    source_bucket, backup_bucket = f"live-{uuid.uuid4().hex[:10]}", f"backup-{uuid.uuid4().hex[:10]}"
    spool = tmp_path / "spool"
    spool.mkdir()
    try:
        original = await _record_calls(source_url, weed, source_bucket, spool)
        assert len(original) == CALLS and all(r.state == "stored" and r.sha256 for r in original.values())

        # ---- backup: the database, then the bucket ----
        dump = tmp_path / "callguard.dump"
        await _run("pg_dump", "-Fc", "--no-owner", "-f", str(dump), _libpq(source_url))
        live = _env(_settings(source_url, weed, source_bucket, spool))
        copied = json.loads(await _run(sys.executable, "-m", "app", "recordings-backup",
                                       "--target-bucket", backup_bucket, env=live, cwd=tmp_path))
        assert copied == {"copied": CALLS, "already": 0, "expired": []}
        again = json.loads(await _run(sys.executable, "-m", "app", "recordings-backup",
                                      "--target-bucket", backup_bucket, env=live, cwd=tmp_path))
        assert again == {"copied": 0, "already": CALLS, "expired": []}  # a re-run copies nothing twice

        # ---- restore: an empty database from the dump, the backup bucket as the store ----
        await _run("pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(restored_url), str(dump))
        restored = _env(_settings(restored_url, weed, backup_bucket, spool))
        relinked = json.loads(await _run(sys.executable, "-m", "app", "recordings-relink", env=restored, cwd=tmp_path))
        assert relinked == {"linked": CALLS, "unchanged": 0, "missing": []}  # new bucket, new version ids
        verified = json.loads(await _run(sys.executable, "-m", "app", "recordings-verify", env=restored, cwd=tmp_path))
        assert verified == {"verified": CALLS, "failed": []}

        # the copies are under the same COMPLIANCE retention and legal hold as the originals
        raw = raw_client(weed)
        try:
            async with make_store(weed, backup_bucket) as backup, make_store(weed, source_bucket) as live_store:
                for call_id, rec in original.items():
                    assert rec.key is not None
                    head, source = await backup.head(rec.key), await live_store.head(rec.key)
                    assert head.version_id != rec.version_id == source.version_id and head.sha256 == rec.sha256
                    assert head.retain_until == source.retain_until > datetime.now(UTC) + timedelta(days=700)
                    assert head.legal_hold == source.legal_hold == rec.legal_hold, call_id
                    with pytest.raises(ClientError):  # Object Lock refuses to delete the copied version
                        raw.delete_object(Bucket=backup_bucket, Key=rec.key, VersionId=head.version_id)
            assert sum(r.legal_hold for r in original.values()) == 1
        finally:
            raw.close()

        # ---- a new service instance on the restored database and bucket ----
        settings = load_settings(None, **_settings(restored_url, weed, backup_bucket, tmp_path / "spool-new"))
        async with compose(settings) as container:
            async with container.db.begin() as s:
                await create_user(s, user_id="ada", role=Role.ADMIN)
                token = await issue_token(s, user_id="ada")
            client = TestClient(TestServer(make_app(container)))
            await client.start_server()
            try:
                auth = {"Authorization": f"Bearer {token}"}
                for call_id, rec in original.items():
                    async with container.db.read() as s:  # found again by its call
                        found = await s.scalar(select(Recording).where(Recording.call_id == call_id))
                    assert found is not None and found.id == rec.id
                    meta = await client.get(f"/v1/recordings/{found.id}", headers=auth)
                    body = await meta.json()
                    assert meta.status == 200 and body["call_id"] == call_id and body["sha256"] == rec.sha256
                    assert body["legal_hold"] == rec.legal_hold
                    audio = await client.get(f"/v1/recordings/{found.id}/audio", headers=auth)
                    assert audio.status == 200
                    assert hashlib.sha256(await audio.read()).hexdigest() == rec.sha256
            finally:
                await client.close()
    finally:
        await pgdb.drop_pg_database(source_db)
        await pgdb.drop_pg_database(restored_db)
