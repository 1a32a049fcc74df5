"""The ingest role beside a PBX (recordings/role.py, app/ingest.py) and a service that reads no spool:
two roles on one spool store once, a role restarted under its name takes its dead run's recordings at once,
the stored listeners run in the role, and ``callguard ingest`` stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.cli import ingest_healthcheck
from app.compose import stored_listeners
from app.ingest import role_name
from audit.service import AuditService
from config.settings import load_settings
from core.events import EventLog
from dialer.models import Call
from recordings.models import Recording
from recordings.role import IngestRole
from recordings.service import on_call_state
from tests.unit.recordings.conftest import Rig

ROOT = Path(__file__).resolve().parents[3]  # the checkout the subprocess imports


def _role(rig: Rig, instance: str) -> IngestRole:
    events = EventLog()
    audit = AuditService(db=rig.db, clock=rig.clock)
    return IngestRole(settings=rig.settings.recordings, storage=rig.settings.storage, db=rig.db, events=events,
                      clock=rig.clock, instance=instance, store=rig.store, run_jobs=False,
                      on_stored=stored_listeners(events, audit, rig.clock))


async def _rows(rig: Rig, call_id: str) -> list[Recording]:
    async with rig.db.read() as s:
        return list((await s.scalars(select(Recording).where(Recording.call_id == call_id))).all())


async def test_a_service_with_external_ingest_reads_no_spool(rig: Rig, tmp_path: Path) -> None:
    absent = tmp_path / "no-such-spool"
    call = await rig.add_call()
    async with rig.feature(ingest="external", spool_dir=str(absent)) as f:
        assert not f.ingests
        f.wake()  # the call-ended hook: nothing to wake here, the role polls
        async with rig.db.begin() as s:  # the hook still makes the row
            got = await s.get(Call, call.id)
            assert got is not None
            assert (await f.service.on_call_state(s, got)) is not None
        assert f._disk() == {"ok": True, "spool": "external"}
    assert not absent.exists()
    [rec] = await _rows(rig, call.id)
    assert rec.state == "pending"


async def test_two_roles_on_one_spool_store_a_recording_once(rig: Rig) -> None:
    calls = [await rig.add_call() for _ in range(3)]
    for call in calls:
        rig.write_legs(call.id)
    async with _role(rig, "ingest-a") as a, _role(rig, "ingest-b") as b:
        await asyncio.gather(a.scan(), b.scan())
    for call in calls:
        [rec] = await _rows(rig, call.id)
        assert rec.state == "stored" and rec.sha256
    assert len(await rig.events("recording.stored")) == 3
    assert sorted(rig.store.puts) == sorted({k for k in rig.store.puts})  # no key put twice
    assert rig.spool_names() == set()


async def test_a_role_restarted_under_its_name_takes_its_dead_runs_recording_at_once(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    async with rig.db.begin() as s:  # the killed run had claimed it: its lease is still live
        got = await s.get(Call, call.id)
        assert got is not None
        rec = await on_call_state(s, got, events=EventLog(), now=rig.clock.now())
        assert rec is not None
        rec.lease_owner, rec.lease_until = "ingest-local-pbx1", rig.clock.now() + timedelta(seconds=60)
    async with _role(rig, "ingest-local-pbx2") as other:
        assert await other.scan() == 0  # another host's role respects the live lease
    async with _role(rig, "ingest-local-pbx1") as again:
        assert await again.scan() == 1
    [stored] = await _rows(rig, call.id)
    assert stored.state == "stored" and stored.lease_owner is None
    assert len(await rig.events("recording.stored")) == 1


async def test_role_name_is_stable_per_pbx_and_host() -> None:
    settings = load_settings(None, server={"instance_id": "pbx-host-1"})
    assert role_name(settings, "north") == "ingest-north-pbx-host-1"
    assert role_name(settings, None) == "ingest-spool-pbx-host-1"


async def test_callguard_ingest_stores_from_its_spool_and_stops_on_sigterm(rig: Rig, tmp_path: Path) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    config = tmp_path / "ingest.toml"
    config.write_text(f'[database]\nurl = "{rig.db.url}"\n[recordings]\nspool_dir = "{rig.spool}"\n'
                      f'scan_interval_s = 0.2\n[storage]\nlocal_root = "{tmp_path / "role-store"}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "--config", str(config), "ingest",
                                                "--pbx", "local", env=env)
    try:
        for _ in range(600):  # until stored (a bound on a hang, not a timing assertion)
            rows = await _rows(rig, call.id)
            if rows and rows[0].state == "stored":
                break
            await asyncio.sleep(0.1)
        [rec] = await _rows(rig, call.id)
        assert rec.state == "stored"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (tmp_path / "role-store").exists()
    assert rig.spool_names() == set()


def test_the_ingest_health_check_needs_the_database_and_a_writable_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"},
                             recordings={"spool_dir": str(spool)})
    assert ingest_healthcheck(settings) == 0
    missing = settings.model_copy(update={"recordings": settings.recordings.model_copy(
        update={"spool_dir": tmp_path / "absent"})})
    assert ingest_healthcheck(missing) == 1
