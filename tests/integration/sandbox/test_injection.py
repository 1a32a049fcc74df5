"""A phone cannot reach a shell, a path or another call's recording on the PBX (issue #11, finding 2).

Hostile ``X-Callguard-Call-Id`` headers go through a real SIP phone: from an agent account (whose
context can dial nothing) and from the probe account (whose ``probe`` extension takes only a UUID
that no other call owns). Nothing runs (no marker file in the rootfs or the host's /tmp), nothing
lands outside the spool, and nothing lands under another call's id. Asterisk runs unprivileged and
the service's AMI account cannot run CLI commands.

The module has its own PBX and phones: pjsua2 2.15 leaks the two RTP sockets of every outgoing call
refused before media (its select ioqueue holds 64), so these refused calls must not eat into the
session phones' budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from dialer.translate import INTERESTING
from sandbox import rootfs
from sandbox.amitap import AmiTap
from sandbox.pbx import MUTABLE_DIRS, AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from sip.protocol import Message
from tests.integration.sandbox.helpers import dominant_frequency, originate, wait_for_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "inj-secret-1"
AGENT = "3001"  # an agent account; dials out here as the attacker
VICTIM = "3002"  # an agent on a real call
PROBE = "3099"  # the recording probe's account
ANSWERS = "+8613800000001"  # the customer line answers it


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pbx() -> AsyncIterator[PbxSandbox]:
    """This module's own Asterisk: two agents and the probe account."""
    async with PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                          customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount(AGENT, PASSWORD),
                                                                           AgentAccount(VICTIM, PASSWORD)],
                          probe_accounts=[AgentAccount(PROBE, PASSWORD)], customer_dial_timeout=4) as sandbox:
        yield sandbox


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def phones(pbx: PbxSandbox) -> AsyncIterator[PhonesProcess]:
    """Phones for this module's PBX (the probe phone never answers incoming calls)."""
    config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port, customer_port=pbx.settings.customer_trunk_port,
                          agents=[AgentPhone(AGENT, PASSWORD, answer_delay=0.2),
                                  AgentPhone(VICTIM, PASSWORD, answer_delay=0.2),
                                  AgentPhone(PROBE, PASSWORD, behaviour="never")])
    async with PhonesProcess(config) as process:
        for user in (AGENT, VICTIM, PROBE):
            await process.wait_for("registered", user=user, timeout=10)
        yield process


@pytest_asyncio.fixture(loop_scope="session")
async def ami(pbx: PbxSandbox) -> AsyncIterator[AmiTap]:
    """The sandbox's tooling AMI account on this module's PBX."""
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as tap:
        yield tap


@pytest_asyncio.fixture(loop_scope="session")
async def service_ami(pbx: PbxSandbox) -> AsyncIterator[AmiTap]:
    """An AMI connection on the service's own account (not the sandbox's tooling account)."""
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as tap:
        yield tap


def hostile_ids(token: str) -> list[str]:
    """Header values that would run ``touch`` or write outside the spool if they reached MixMonitor."""
    marker = f"/tmp/pwned-{token}"
    return [
        f"x; touch {marker}",
        f"$(touch {marker}-subst)",
        f"{uuid.uuid4()},,touch {marker}-option",  # a comma would add MixMonitor arguments
        f"../../../../tmp/pwned-{token}-traversal",
        f"{uuid.uuid4()}/../../../../../tmp/pwned-{token}-uuid-traversal",
        str(uuid.uuid4()).upper(),  # not the service's form: refused too
    ]


async def dial(phones: PhonesProcess, pbx: PbxSandbox, phone: str, exten: str, call_id: str) -> Message:
    """One call from ``phone`` to ``exten`` with ``call_id`` in the header; its ``ended`` event."""
    mark = phones.mark()
    await phones.send({"cmd": "call", "phone": phone, "uri": f"sip:{exten}@{pbx.sip_host}:{pbx.sip_port}",
                       "headers": {"X-Callguard-Call-Id": call_id}, "hangup_after": 1.0, "tone_hz": 1400})
    return await phones.wait_for("ended", phone=phone, direction="out", since=mark, timeout=15)


def refusals(pbx: PbxSandbox) -> int:
    """How many refusals Asterisk logged (agents' context, probe header check, call id check)."""
    lines = pbx.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return sum(1 for line in lines if " WARNING[" in line and ": refused " in line)


async def refused_since(pbx: PbxSandbox, before: int, expected: int, within: float = 5.0) -> int:
    """Refusals logged since the count was ``before``: once ``expected`` are in, or after ``within`` seconds.

    Asterisk's logger writes from its own thread, so a refusal's line may land after the phone saw the
    call end; reading the log once at that moment undercounts.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        count = refusals(pbx) - before
        if count >= expected or asyncio.get_running_loop().time() >= deadline:
            return count
        await asyncio.sleep(0.05)


def spool_names(pbx: PbxSandbox) -> set[str]:
    """File names in the spool."""
    return {p.name for p in pbx.spool_dir.iterdir()}


def files_named(root: Path, token: str) -> list[Path]:
    """Every file or directory under ``root`` whose name contains ``token`` (does not follow links)."""
    found: list[Path] = []
    for top, dirs, files in os.walk(root, onerror=lambda _exc: None):
        found += [Path(top, name) for name in (*dirs, *files) if token in name]
    return found


def process_status(pid: int) -> dict[str, list[str]]:
    """``/proc/<pid>/status`` as name -> whitespace-split values."""
    lines = Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines()
    return {name: value.split() for name, _, value in (line.partition(":") for line in lines)}


def fingerprint(paths: list[Path]) -> dict[str, tuple[int, str]]:
    """(size, sha256) of each file, by name."""
    return {p.name: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths}


async def test_hostile_headers_run_nothing_and_write_nothing(pbx: PbxSandbox, phones: PhonesProcess) -> None:
    token = secrets.token_hex(6)
    before, refused, mark = spool_names(pbx), refusals(pbx), phones.mark()
    hostile = hostile_ids(token)
    calls = [(phone, "probe", call_id) for call_id in hostile for phone in (AGENT, PROBE)]
    calls += [(AGENT, ANSWERS, hostile[0]), (AGENT, VICTIM, hostile[0]), (PROBE, ANSWERS, hostile[0])]
    for phone, exten, call_id in calls:
        ended = await dial(phones, pbx, phone, exten, call_id)
        assert ended["answered"] is False and ended["code"] >= 400, (phone, exten, call_id, ended)
    # every refusal is logged, but for the probe account dialling anything but `probe`: that does not exist
    assert await refused_since(pbx, refused, len(calls) - 1) == len(calls) - 1
    await asyncio.sleep(1.0)  # a post-command, had one been started, runs right after the call ends
    assert spool_names(pbx) == before
    assert await asyncio.to_thread(files_named, pbx.rootfs, token) == []
    assert await asyncio.to_thread(files_named, Path("/tmp"), token) == []
    assert phones.find("incoming", since=mark) is None  # no customer and no other phone was rung

    # the probe account with a fresh UUID is answered and recorded: the refusals above are not a broken probe
    probe_id = str(uuid.uuid4())
    ended = await dial(phones, pbx, PROBE, "probe", probe_id)
    assert ended["answered"] is True
    await wait_for_file(pbx.spool_dir / f"{probe_id}.done")
    assert {f"{probe_id}{s}" for s in (".wav", "-rx.wav", "-tx.wav", ".done")} <= spool_names(pbx)


async def test_nothing_lands_under_another_calls_id(pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap) -> None:
    mark = phones.mark()
    call_id = await originate(ami, VICTIM, ANSWERS)
    await ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER", within=15)
    refused = refusals(pbx)
    # while the real call is live: its agent leg has Uniqueid = call id
    assert (await dial(phones, pbx, PROBE, "probe", call_id))["answered"] is False
    assert (await dial(phones, pbx, AGENT, "probe", call_id))["answered"] is False
    assert await refused_since(pbx, refused, 2) == 2
    await asyncio.sleep(1.0)  # the real call records on: agent tone (600 Hz) and customer tone (1000 Hz)
    await phones.send({"cmd": "hangup", "phone": VICTIM})
    await phones.wait_for("ended", phone=VICTIM, since=mark)
    await wait_for_file(pbx.spool_dir / f"{call_id}.done")
    own = [pbx.spool_dir / f"{call_id}{s}" for s in (".wav", "-rx.wav", "-tx.wav", ".done")]
    assert sorted(n for n in spool_names(pbx) if n.startswith(call_id)) == sorted(p.name for p in own)
    assert abs(dominant_frequency(own[1]) - 600) < 60  # the agent's voice, not the intruder's 1400 Hz
    # after the call, while its files wait in the spool for ingest: still refused, files untouched
    kept = fingerprint(own)
    assert (await dial(phones, pbx, PROBE, "probe", call_id))["answered"] is False
    await asyncio.sleep(1.0)
    assert fingerprint(own) == kept
    assert sorted(n for n in spool_names(pbx) if n.startswith(call_id)) == sorted(p.name for p in own)


async def test_a_ringing_calls_id_is_refused_before_its_recording_exists(
    pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap
) -> None:
    """The agent leg exists (Uniqueid = call id) from the Originate on; its files only from the answer."""
    await phones.send({"cmd": "set_behaviour", "phone": VICTIM, "answer_delay": 3.0})
    mark = phones.mark()
    call_id = await originate(ami, VICTIM, ANSWERS)
    try:
        await phones.wait_for("incoming", phone=VICTIM, since=mark)
        refused = refusals(pbx)
        assert (await dial(phones, pbx, PROBE, "probe", call_id))["answered"] is False
        assert await refused_since(pbx, refused, 1) == 1
        assert phones.find("answered", phone=VICTIM, since=mark) is None  # still ringing: nothing recorded yet
        assert not [n for n in spool_names(pbx) if n.startswith(call_id)]
        # the real call then records and reaches its customer, undisturbed
        await ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER", within=15)
        await phones.send({"cmd": "hangup", "phone": VICTIM})
        await wait_for_file(pbx.spool_dir / f"{call_id}.done")
    finally:  # even when an assertion failed: the call must not ring the customer during the next test
        await phones.send({"cmd": "set_behaviour", "phone": VICTIM, "answer_delay": 0.2})
        await ami.action("Hangup", Channel=f"/^PJSIP/{VICTIM}-.*$/")
        await ami.wait_event("Hangup", Uniqueid=call_id, within=15)


async def test_callguard_record_refuses_a_call_id_that_is_not_a_uuid(
    pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap
) -> None:
    """Defence in depth: even an Originate's CALL_ID is checked before it names a file."""
    token = secrets.token_hex(6)
    before, refused, mark = spool_names(pbx), refusals(pbx), phones.mark()
    channel_id = str(uuid.uuid4())
    response = await ami.action(
        "Originate", Channel=f"PJSIP/{VICTIM}", Context="callguard-outbound", Exten=ANSWERS, Priority="1",
        Async="true", ChannelId=channel_id, Variable=f"__CALL_ID=x; touch /tmp/pwned-{token},CALLGUARD_GO=yes",
        Timeout="10000")
    assert response["Response"] == "Success", response
    await ami.wait_event("Hangup", Uniqueid=channel_id, within=15)
    assert await refused_since(pbx, refused, 1) == 1
    assert phones.find("incoming", phone="customer", since=mark) is None  # refused before the customer leg
    await asyncio.sleep(1.0)
    assert spool_names(pbx) == before
    assert await asyncio.to_thread(files_named, pbx.rootfs, token) == []


async def test_asterisk_runs_as_the_unprivileged_user(pbx: PbxSandbox) -> None:
    uid, gid = rootfs.run_ids(pbx.rootfs)
    assert uid != 0 and gid != 0
    assert pbx.pid is not None
    fields = process_status(pbx.pid)
    assert fields["Name"] == ["asterisk"]
    assert fields["Uid"] == [str(uid)] * 4  # real, effective, saved, filesystem
    assert fields["Gid"] == [str(gid)] * 4
    for sub in MUTABLE_DIRS:
        assert (pbx.instance_dir / sub).stat().st_uid == uid
    etc = pbx.instance_dir / "etc"
    assert etc.stat().st_uid == 0 and not etc.stat().st_mode & 0o022  # its configuration: read-only to it
    assert all(p.stat().st_uid == 0 and not p.stat().st_mode & 0o022 for p in etc.iterdir())


async def test_service_account_cannot_run_commands(service_ami: AmiTap) -> None:
    for action, fields in (("Command", {"Command": "core show version"}),
                           ("Command", {"Command": "module unload app_mixmonitor.so"}),
                           ("ModuleLoad", {"Module": "app_system.so", "LoadType": "load"}),
                           ("GetConfig", {"Filename": "manager.conf"}),
                           ("UpdateConfig", {"SrcFilename": "extensions.conf", "DstFilename": "extensions.conf"}),
                           ("Reload", {})):
        response = await service_ami.action(action, **fields)
        assert (response["Response"], response.get("Message")) == ("Error", "Permission denied"), (action, response)
    # a shell through Originate needs the system class (and app_system is not even loaded)
    response = await service_ami.action("Originate", Channel="Local/s@callguard-inbound", Application="System",
                                        Data="touch /tmp/pwned")
    assert response["Response"] == "Error"


async def test_service_account_does_everything_the_service_does(
    pbx: PbxSandbox, phones: PhonesProcess, service_ami: AmiTap
) -> None:
    """Originate, Setvar (the go-ahead), MixMonitorMute, CoreShowChannels, Hangup, Ping; the dialer's events."""
    mark = phones.mark()
    call_id = str(uuid.uuid4())
    response = await service_ami.action(
        "Originate", Channel=f"PJSIP/{VICTIM}", Context="callguard-outbound", Exten=ANSWERS, Priority="1",
        Async="true", ChannelId=call_id, Variable=f"__CALL_ID={call_id}", Timeout="10000")
    assert response["Response"] == "Success", response
    up = await service_ami.wait_event("Newstate", Uniqueid=call_id, ChannelStateDesc="Up", within=15)
    channel = up["Channel"]
    assert (await service_ami.action("Setvar", Channel=channel, Variable="CALLGUARD_GO", Value="yes"))[
        "Response"] == "Success"
    await service_ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER", within=15)
    for state in ("1", "0"):
        muted = await service_ami.action("MixMonitorMute", Channel=channel, Direction="both", State=state)
        assert muted["Response"] == "Success", muted
    live = await service_ami.collect_list("CoreShowChannels", "CoreShowChannelsComplete")
    assert call_id in {m.get("Linkedid") for m in live}
    assert (await service_ami.action("Ping"))["Response"] == "Success"
    assert (await service_ami.action("Hangup", Channel=channel, Cause="16"))["Response"] == "Success"
    await service_ami.wait_event("Hangup", Uniqueid=call_id, within=10)
    await phones.wait_for("ended", phone=VICTIM, since=mark)
    seen = {m["Event"] for m in service_ami.messages if "Event" in m and m.get("Linkedid") == call_id}
    assert INTERESTING - {"OriginateResponse"} <= seen | {"SoftHangupRequest"}
    assert service_ami.find(lambda m: m.get("Event") == "OriginateResponse" and m.get("Uniqueid") == call_id)
    # read = call only: no dialplan (VarSet, Newexten) or cdr events
    assert not {"VarSet", "Newexten", "Cdr"} & {m.get("Event") for m in service_ami.messages}
    await wait_for_file(pbx.spool_dir / f"{call_id}.done")


async def test_ami_accepts_only_loopback_127_0_0_1(pbx: PbxSandbox) -> None:
    """The permit is 127.0.0.1/32: the right secret from 127.0.0.2 (also loopback) is refused."""
    reader, writer = await asyncio.open_connection(pbx.ami_host, pbx.ami_port, local_addr=("127.0.0.2", 0))
    try:
        await reader.readline()
        writer.write(f"Action: Login\r\nUsername: {pbx.ami_user}\r\nSecret: {pbx.ami_secret}\r\n"
                     "ActionID: far\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(5):
            block = await reader.readuntil(b"\r\n\r\n")
        assert b"Response: Error" in block
    finally:
        writer.close()
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as near:
        assert (await near.action("Ping"))["Response"] == "Success"
