"""Several machines: two service instances, two PBXs, the ingest role beside each PBX, PostgreSQL and a real S3
(SeaweedFS with Object Lock) as the only shared state.

Each service instance and each ingest role is its own process (``callguard serve``, ``callguard ingest``),
started from a configuration file as an operator would. Both instances start at once on an empty database
(the migration lock), and each is connected to both PBXs; no instance reads a spool (``recordings.ingest =
"external"``): the role beside each PBX stores that PBX's recordings. Agents are split across the PBXs: ana's
phone is on ``east`` (the session's sandbox), wes's on ``west`` (a second Asterisk with its own phones).

Shown, in one scenario:
- a dial goes through either instance, to either PBX;
- a live stream on one instance sees the calls placed through the other;
- an instance SIGKILLed while its call is up loses nothing: the other instance sees the call on, hangs it up,
  and the call ends completed with its talk time, recorded;
- every recording is stored exactly once, in S3, and reads back with its SHA-256;
- every webhook (a real receiver subscribed to every event) is delivered exactly once. The kill falls
  between deliveries (the test waits until the outbox is drained first): a kill during a delivery in flight
  gives a second delivery with the same ``webhook-id``, which tests/integration/hooks shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import DatabaseSettings, StorageSettings
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call
from hooks.models import Delivery
from recordings.models import Recording
from recordings.runtime import build_store
from recordings.storage.s3 import S3Store
from sandbox.pbx import AgentAccount, PbxSandbox
from sandbox.seaweed import SeaweedS3
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.recordings.conftest import s3_storage
from tests.support import pgdb
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[3]  # the checkout the processes import
CLIENT = "e2e-bank"
EAST_ANSWERS, WEST_ANSWERS = "+8613800000001", "+8613900000001"  # each PBX's customer line answers ...0001
WEST_PASSWORD = "west-secret-1"


def _toml(value: Any) -> str:
    """``value`` as a TOML value (inline tables and arrays; JSON strings are TOML basic strings)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _write_config(path: Path, sections: dict[str, Any]) -> Path:
    """A configuration file for one process, as an operator writes it."""
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in sections.items()), encoding="utf-8")
    return path


def _pbx_entry(name: str, pbx: PbxSandbox) -> dict[str, Any]:
    return {"name": name, "ami_host": pbx.ami_host, "ami_port": pbx.ami_port, "ami_user": pbx.ami_user,
            "ami_secret": pbx.ami_secret, "ping_interval_s": 0.5, "pong_timeout_s": 1.0, "agent_ring_timeout_s": 10}


@dataclass
class Instance:
    """One ``callguard serve`` process and its address."""

    name: str
    url: str
    proc: asyncio.subprocess.Process
    log: Path


@dataclass
class Machines:
    """The running rig: two instances, the shared database, the bucket, the receiver, everyone's tokens."""

    a: Instance
    b: Instance
    db: Database
    store: S3Store
    receiver: Receiver
    http: aiohttp.ClientSession
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def request(self, via: Instance, method: str, path: str, user: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, via.url + path, headers=self.auth(user), **kw) as r:
            return r.status, await r.json()

    async def dial(self, via: Instance, agent: str, number: str) -> str:
        """A case of ``number`` for ``agent`` (sent by the bank's case system), dialled through ``via``."""
        status, case = await self.request(via, "PUT", f"/v1/clients/{CLIENT}/cases/SM{number[1:]}-{agent}",
                                          "casesys", json={"debtor_name": "Debtor", "amount": "100.00",
                                                           "currency": "CNY", "agent": agent, "team": "e2e",
                                                           "contacts": [{"number": number, "kind": "mobile"}]})
        assert status in (200, 201), case
        status, call = await self.request(via, "POST", "/v1/calls", agent,
                                          json={"agent": agent, "number": number, "case_id": case["id"]})
        assert status == 202, call
        return str(call["id"])

    async def wait_state(self, via: Instance, call_id: str, *states: str, within: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(within):  # a wait, not a timing assertion
            while True:
                status, call = await self.request(via, "GET", f"/v1/calls/{call_id}", "sup")
                assert status == 200, call
                if call["state"] in states:
                    return dict(call)
                await asyncio.sleep(0.1)

    async def hangup(self, via: Instance, agent: str, call_id: str) -> None:
        status, body = await self.request(via, "POST", f"/v1/calls/{call_id}/hangup", agent)
        assert status == 202, body

    async def wait_available(self, via: Instance, agent: str) -> None:
        async with asyncio.timeout(30):  # wrap-up ends by itself (presence.wrap_up_s)
            while True:
                status, state = await self.request(via, "GET", f"/v1/agents/{agent}/state", agent)
                if status == 404 or state.get("state") == "available":
                    return
                await asyncio.sleep(0.1)

    async def stored(self, call_id: str, within: float = 60) -> list[Recording]:
        async with asyncio.timeout(within):  # a wait for the ingest roles, not a timing assertion
            while True:
                async with self.db.read() as s:
                    rows = list((await s.scalars(select(Recording).where(Recording.call_id == call_id))).all())
                if rows and all(r.state == "stored" for r in rows):
                    return rows
                await asyncio.sleep(0.2)

    async def outbox_drained(self, within: float = 30) -> int:
        """Wait until every delivery is finished; how many there are."""
        try:
            return await asyncio.wait_for(self._drained(), within)
        except TimeoutError:
            async with self.db.read() as s:
                rows = (await s.execute(select(Delivery.event_type, Delivery.state, Delivery.attempts,
                                               Delivery.last_status, Delivery.last_error))).all()
            raise AssertionError(f"the outbox is not drained: {rows}") from None

    async def _drained(self) -> int:
        while True:
            async with self.db.read() as s:
                total = int(await s.scalar(select(func.count()).select_from(Delivery)) or 0)
                open_ = int(await s.scalar(select(func.count()).select_from(Delivery).where(
                    Delivery.finished_at.is_(None))) or 0)
            if total and not open_:
                return total
            await asyncio.sleep(0.2)


async def _start(args: list[str], config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "--config", str(config), *args,
                                                    env=env, stdout=out, stderr=out)


async def _ready(http: aiohttp.ClientSession, inst: Instance) -> None:
    """Wait until the instance answers /readyz (database and both PBXs connected)."""
    async with asyncio.timeout(90):
        while True:
            if inst.proc.returncode is not None:
                raise AssertionError(f"instance {inst.name} exited {inst.proc.returncode}:\n"
                                     f"{inst.log.read_text(errors='replace')[-4000:]}")
            try:
                async with http.get(inst.url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def _stop(proc: asyncio.subprocess.Process) -> int | None:
    """SIGTERM, as a container stop sends; the exit status (None: it had already ended)."""
    if proc.returncode is not None:
        return None
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -signal.SIGKILL


@asynccontextmanager
async def _west() -> AsyncIterator[PbxSandbox]:
    """The second PBX, with wes's phone (2001, answers) and its own customer line."""
    async with PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                          customer_trunk_port=free_tcp_udp_port(), rtp_ports=(30000, 31999),
                          agents=[AgentAccount("2001", WEST_PASSWORD)], customer_dial_timeout=4) as pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port, rtp_port=52000, rtp_port_range=2000,
                              agents=[AgentPhone("2001", WEST_PASSWORD, behaviour="answer", answer_delay=0.3)])
        async with PhonesProcess(config):
            yield pbx


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def machines(pbx: PbxSandbox, phones: PhonesProcess, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Machines]:
    tmp = tmp_path_factory.mktemp("machines")
    url, dbname = await pgdb.create_pg_database()
    try:
        async with AsyncExitStack() as exits:
            west = await exits.enter_async_context(_west())
            weed = await exits.enter_async_context(SeaweedS3())
            storage = s3_storage(weed, "calls")
            rx = await exits.enter_async_context(Receiver(secret=""))
            http = await exits.enter_async_context(aiohttp.ClientSession())
            shared = {"database": {"url": url}, "storage": storage, "compliance": {"default_profile": "DEMO"},
                      "pbx": [_pbx_entry("east", pbx), _pbx_entry("west", west)],
                      "hooks": {"allow_private_targets": True, "poll_interval_s": 0.1, "request_timeout_s": 2,
                                "lease_s": 5},
                      "presence": {"wrap_up_s": 1, "sweep_interval_s": 0.1}}
            procs: list[asyncio.subprocess.Process] = []
            instances = []
            for inst in ("a", "b"):
                port = free_port()
                config = _write_config(tmp / f"{inst}.toml", {
                    **shared, "server": {"host": "127.0.0.1", "port": port, "instance_id": f"svc-{inst}"},
                    "recordings": {"ingest": "external", "spool_dir": str(tmp / f"{inst}-has-no-spool")}})
                log = tmp / f"{inst}.log"
                procs.append(await _start(["serve"], config, log))  # both at once on the empty database
                instances.append(Instance(inst, f"http://127.0.0.1:{port}", procs[-1], log))
            for at, sandbox in (("east", pbx), ("west", west)):  # the role beside each PBX, on its spool
                config = _write_config(tmp / f"ingest-{at}.toml", {
                    "database": {"url": url}, "storage": storage, "server": {"instance_id": f"pbx-{at}"},
                    "recordings": {"spool_dir": str(sandbox.spool_dir), "scan_interval_s": 0.2, "lease_s": 30}})
                procs.append(await _start(["ingest", "--pbx", at], config, tmp / f"ingest-{at}.log"))
            try:
                for inst_ in instances:
                    await _ready(http, inst_)
                db = await exits.enter_async_context(Database(DatabaseSettings(url=url)))
                store = build_store(StorageSettings(**storage))
                assert isinstance(store, S3Store)
                await exits.enter_async_context(store)
                m = Machines(instances[0], instances[1], db, store, rx, http)
                async with db.begin() as s:
                    for user, sip, at in (("ana", "1001", "east"), ("wes", "2001", "west")):
                        await create_user(s, user_id=user, role=Role.AGENT, sip_user=sip, pbx=at, team="e2e",
                                          clients=(CLIENT,))
                        m.tokens[user] = await issue_token(s, user_id=user)
                    for user, role in (("sup", Role.SUPERVISOR), ("casesys", Role.INTEGRATION)):
                        await create_user(s, user_id=user, role=role, clients=(CLIENT,))
                        m.tokens[user] = await issue_token(s, user_id=user)
                status, sub = await m.request(m.a, "POST", "/v1/hooks/subscriptions", "casesys",
                                              json={"url": rx.url, "event_types": ["*"]})
                assert status == 201, sub
                rx.secret = sub["secret"]
                yield m
            finally:
                codes = [await _stop(proc) for proc in procs]
            # a clean stop on SIGTERM: exit status 0 (instance a, killed by the test, had already ended)
            assert set(codes) <= {0, None}, codes
    finally:
        await pgdb.drop_pg_database(dbname)


async def _watch(m: Machines, via: Instance, seen: list[dict[str, Any]]) -> None:
    """Read ``via``'s live stream (every event the supervisor may see) into ``seen``."""
    async with m.http.get(via.url + "/v1/events", headers=m.auth("sup"),
                          timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))


async def _seen_on(*streams: list[dict[str, Any]], calls: set[str]) -> None:
    """Wait until each stream carried an event of each of ``calls``."""
    async with asyncio.timeout(15):  # a wait, not a timing assertion
        while True:
            if all(calls <= {e["call_id"] for e in seen if e.get("call_id")} for seen in streams):
                return
            await asyncio.sleep(0.1)


async def test_two_instances_two_pbxs_one_killed_mid_call_lose_nothing(machines: Machines) -> None:
    m = machines
    on_a: list[dict[str, Any]] = []
    on_b: list[dict[str, Any]] = []
    watchers = [asyncio.create_task(_watch(m, m.a, on_a)), asyncio.create_task(_watch(m, m.b, on_b))]
    try:
        # a dial through each instance, one to each PBX, at the same time
        east, west = await asyncio.gather(m.dial(m.a, "ana", EAST_ANSWERS), m.dial(m.b, "wes", WEST_ANSWERS))
        for call_id, via in ((east, m.b), (west, m.a)):  # each seen answered through the other instance
            await m.wait_state(via, call_id, "answered")
        await asyncio.sleep(1.5)  # audio to record, not a timing assertion
        await asyncio.gather(m.hangup(m.b, "ana", east), m.hangup(m.a, "wes", west))
        for call_id in (east, west):
            call = await m.wait_state(m.a, call_id, "ended")
            assert call["end_reason"] == "completed" and call["talk_seconds"] > 0, call
        await _seen_on(on_a, on_b, calls={east, west})  # whichever instance placed them

        # instance a dies (SIGKILL, no clean stop) while its call is up; b carries on
        await m.wait_available(m.b, "ana")
        doomed = await m.dial(m.a, "ana", EAST_ANSWERS)
        await m.wait_state(m.b, doomed, "answered")
        await m.outbox_drained()
        m.a.proc.kill()
        await m.a.proc.wait()
        await asyncio.sleep(1.5)  # the call goes on with one instance left, not a timing assertion
        assert (await m.wait_state(m.b, doomed, "answered"))["ended_at"] is None
        await m.hangup(m.b, "ana", doomed)
        call = await m.wait_state(m.b, doomed, "ended")
        assert call["end_reason"] == "completed" and call["talk_seconds"] >= 1.5, call  # it went on after the kill
        await _seen_on(on_b, calls={doomed})
    finally:
        for w in watchers:
            w.cancel()

    # every recording stored exactly once, in S3, verified; its event once
    calls = (east, west, doomed)
    for call_id in calls:
        [rec] = await m.stored(call_id)
        assert rec.channels == 2 and rec.key and rec.sha256
        assert await m.store.verify(rec.key, rec.sha256, version_id=rec.version_id)
    async with m.db.read() as s:
        stored_events = Counter((await s.scalars(select(DomainEventRow.call_id).where(
            DomainEventRow.type == "recording.stored"))).all())
        pbx_of = {row.id: row.pbx for row in await s.execute(select(Call.id, Call.pbx).where(Call.id.in_(calls)))}
    assert stored_events == Counter(calls)
    assert pbx_of == {east: "east", west: "west", doomed: "east"}

    # every webhook delivered exactly once, each with a valid signature
    total = await m.outbox_drained()
    async with m.db.read() as s:
        wanted = set((await s.scalars(select(Delivery.webhook_id))).all())
    await m.receiver.wait_for(total, timeout=30)
    assert len(wanted) == total
    assert all(r.verified for r in m.receiver.requests)
    assert m.receiver.duplicates() == {}
    assert m.receiver.delivered_ids() == wanted
    ended = {r.json["data"]["call_id"] for r in m.receiver.requests if r.json["type"] == "call.ended"}
    assert ended == set(calls)
