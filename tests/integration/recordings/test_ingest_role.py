"""A PBX on its own host: the service reads no spool (``recordings.ingest = "external"``) and ``callguard
ingest`` runs as its own process beside the sandbox PBX, on its spool, as an operator would run it, both on
PostgreSQL (the database several machines share).

A click-to-dial call is recorded, stored once, verified, attached to its case's contact log, and its
``recording.stored`` reaches the service's live stream through the event log in the database. Then the role
is killed (SIGKILL) and a second call's files wait in the spool with no role running; restarted, it stores
that recording exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from cases.models import ContactLog
from core.models import DomainEventRow
from recordings.models import Recording
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack
from tests.support.spool import spool_emptied

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[3]  # the checkout the role's process imports
ANSWERS = "+8613800000001"


@dataclass
class Rig:
    """The service (no spool) and how to start the ingest role beside the PBX."""

    stack: Stack
    config: Path
    spool: Path

    async def start_role(self) -> asyncio.subprocess.Process:
        """``callguard ingest --pbx local`` as its own process."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "--config", str(self.config),
                                                    "ingest", "--pbx", "local", env=env)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rig(pbx: PbxSandbox, phones: PhonesProcess, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[Rig]:
    tmp = tmp_path_factory.mktemp("ingest-role")
    no_spool = tmp / "service-has-no-spool"
    async with service_stack(pbx, tmp, backend="postgres",
                             recordings={"ingest": "external", "spool_dir": str(no_spool)}) as s:
        assert not no_spool.exists()
        config = tmp / "ingest.toml"
        config.write_text(  # the role's own file on the PBX host: the shared database and store, its spool
            f'[database]\nurl = "{s.container.settings.database.url}"\n'
            f'[server]\ninstance_id = "pbx-host"\n'
            f'[recordings]\nspool_dir = "{pbx.spool_dir}"\nscan_interval_s = 0.2\nlease_s = 30\n'
            f'[storage]\nlocal_root = "{s.container.settings.storage.local_root}"\n', encoding="utf-8")
        yield Rig(s, config, pbx.spool_dir)


async def _stored(rig: Rig, call_id: str, within: float = 60.0) -> Recording:
    async with asyncio.timeout(within):  # a wait for the other process, not a timing assertion
        while True:
            async with rig.stack.container.db.read() as s:
                rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is not None and rec.state == "stored":
                return rec
            await asyncio.sleep(0.2)


async def _talk(rig: Rig) -> str:
    s = rig.stack
    call = await s.dial("ana", ANSWERS)
    await s.wait_state(call["id"], "answered")
    await asyncio.sleep(1.5)  # audio to record, not a timing assertion
    r = await s.client.post(f"/v1/calls/{call['id']}/hangup", headers=s.auth("ana"))
    assert r.status == 202
    await s.wait_state(call["id"], "ended")
    return str(call["id"])


async def _stored_events(rig: Rig, call_id: str) -> int:
    async with rig.stack.container.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(DomainEventRow).where(
            DomainEventRow.type == "recording.stored", DomainEventRow.call_id == call_id)) or 0)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_the_role_stores_a_call_once_for_a_service_without_spool(rig: Rig) -> None:
    s = rig.stack
    seen: list[dict[str, Any]] = []

    async def watch() -> None:
        async with s.client.get("/v1/events?types=recording.stored", headers=s.auth("ada")) as resp:
            async for line in resp.content:
                if line.startswith(b"data: ") and b"recording_id" in line:
                    seen.append(json.loads(line[6:]))
                    return

    watcher = asyncio.create_task(watch())
    role = await rig.start_role()
    try:
        await asyncio.wait_for(s.container.stream.wait_for_subscribers(1), 10)
        call_id = await _talk(rig)
        rec = await _stored(rig, call_id)
        await asyncio.wait_for(watcher, 30)
        await spool_emptied(rig.spool, call_id)  # the role removes the files after committing "stored"
    finally:
        watcher.cancel()
        await _stop(role)
    assert rec.channels == 2 and rec.key and rec.sha256
    assert await s.container.recordings_feature().store.verify(rec.key, rec.sha256, version_id=rec.version_id)
    assert await _stored_events(rig, call_id) == 1
    async with s.container.db.read() as session:
        contact = await session.scalar(select(ContactLog).where(ContactLog.call_id == call_id))
    assert contact is not None and (contact.recording_id, contact.recording_sha256) == (rec.id, rec.sha256)
    [event] = seen  # the live stream of the service: the role's event, read from the shared event log
    assert (event["type"], event["call_id"], event["data"]["recording_id"], event["data"]["sha256"]) == (
        "recording.stored", call_id, rec.id, rec.sha256)


async def test_a_killed_role_restarted_stores_the_waiting_recording_exactly_once(rig: Rig) -> None:
    role = await rig.start_role()
    await asyncio.sleep(1.0)  # the role is up (its first scan), not a timing assertion
    role.kill()  # SIGKILL: no clean stop, nothing released
    await role.wait()
    call_id = await _talk(rig)
    async with asyncio.timeout(30):  # the PBX closes the files and writes the marker; no role runs
        while True:
            if (rig.spool / f"{call_id}.done").exists():
                break
            await asyncio.sleep(0.1)
    async with rig.stack.container.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
    assert rec is not None and rec.state != "stored"  # the service ingests nothing itself
    again = await rig.start_role()
    try:
        stored = await _stored(rig, call_id)
        await spool_emptied(rig.spool, call_id)  # the role removes the files after committing "stored"
    finally:
        again.terminate()
        assert await asyncio.wait_for(again.wait(), 60) == 0  # SIGTERM: a clean stop
    assert await _stored_events(rig, call_id) == 1
    async with rig.stack.container.db.read() as s:
        rows = (await s.scalars(select(Recording).where(Recording.call_id == call_id))).all()
    assert [r.id for r in rows] == [stored.id]
