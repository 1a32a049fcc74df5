"""Click-to-dial end to end: the real service, the real Asterisk 22 and real SIP phones (pjsua2).

Agents (see tests/integration/conftest.py): 1001 answers, 1002 never answers, 1003 rejects (486),
1004 is not registered. Customer numbers by last digits: 0001 answers, 0486 busy, 0408 never answers,
0503 unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import BACKENDS, Stack, service_stack
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=BACKENDS)
async def stack(request: pytest.FixtureRequest, pbx: PbxSandbox, phones: PhonesProcess,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One service per backend for the whole module (the scenarios below do not disturb each other)."""
    async with service_stack(pbx, tmp_path_factory.mktemp("c2d"), backend=request.param) as s:
        yield s


async def until_not_ready(stack: Stack, within: float = 15.0) -> dict[str, Any]:
    """Poll /readyz until it answers 503 (the service noticed the AMI drop); its body."""
    async with asyncio.timeout(within):
        while True:
            r = await stack.client.get("/readyz")
            if r.status == 503:
                body: dict[str, Any] = await r.json()
                return body
            await asyncio.sleep(0.05)


async def test_answered_call_flows_through_every_state_live_and_completes(stack: Stack) -> None:
    seen: list[str] = []

    async def watch() -> None:
        async with stack.client.get("/v1/events?types=call.", headers=stack.auth("ana")) as resp:
            async for line in resp.content:
                if line.startswith(b"event: call."):
                    seen.append(line[7:].decode().strip())
                    if seen[-1] == "call.ended":
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(stack.container.stream.wait_for_subscribers(1), 10)
    call = await stack.dial("ana", "+8613800000001")
    await stack.wait_state(call["id"], "answered")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    await asyncio.wait_for(watcher, 10)
    assert seen == ["call.requested", "call.agent_ringing", "call.agent_answered", "call.customer_ringing",
                    "call.answered", "call.ended"]
    assert ended["end_reason"] == "completed"
    assert ended["talk_seconds"] is not None and ended["talk_seconds"] > 0
    assert ended["ring_seconds"] is not None and ended["ring_seconds"] > 0
    for step in ("agent_ringing_at", "agent_answered_at", "customer_ringing_at", "answered_at", "ended_at"):
        assert ended[step] is not None, step
    assert ended["agent_ringing_at"] <= ended["agent_answered_at"] <= ended["answered_at"] <= ended["ended_at"]


@pytest.mark.parametrize(("number", "reason"), [
    ("+8613800000486", "customer_busy"),
    ("+8613800000408", "customer_no_answer"),
    ("+8613800000503", "customer_unreachable"),
])
async def test_customer_not_reached(stack: Stack, number: str, reason: str) -> None:
    call = await stack.dial("ana", number)
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == reason
    assert ended["answered_at"] is None and ended["talk_seconds"] is None
    assert ended["customer_ringing_at"] is not None


@pytest.mark.parametrize(("agent", "reason"), [
    ("nick", "agent_no_answer"),
    ("rita", "agent_rejected"),
])
async def test_agent_not_reached(stack: Stack, agent: str, reason: str) -> None:
    call = await stack.dial(agent, "+8613800000001")
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == reason
    assert ended["customer_ringing_at"] is None


async def test_an_agent_whose_phone_is_not_registered_is_not_dialled_for(stack: Stack) -> None:
    """Presence knows olga's phone is not registered (the PBX's device states, read at each connect and
    periodically; read here at once): the dial is refused before the gate, and nothing rings (the PBX would
    have answered agent_unavailable; that end reason is replayed from its trace in the unit tests)."""
    await stack.container.presence.sync_devices("local")
    r = await stack.client.post("/v1/calls", json={"agent": "olga", "number": "+8613800000001",
                                                   "case_id": await stack.case_for("+8613800000001", "olga")},
                                headers=stack.auth("olga"))
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "agent-not-available", body
    assert (body["error"]["details"]["state"], body["error"]["details"]["reason"]) == ("offline",
                                                                                      "phone_unregistered")


async def test_hangup_while_the_agent_phone_rings_cancels(stack: Stack) -> None:
    call = await stack.dial("nick", "+8613800000001")
    await stack.wait_state(call["id"], "agent_ringing")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("nick"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "cancelled"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ami_cut_mid_call_and_restored_ends_right_without_a_second_originate(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path, backend: str) -> None:
    async with TcpProxy(pbx.ami_host, pbx.ami_port) as proxy, \
            service_stack(pbx, tmp_path, ami_port=proxy.port, backend=backend) as stack:
        ready = await (await stack.client.get("/readyz")).json()
        assert ready["checks"]["database"]["ok"] and ready["checks"]["pbx"]["local"]["connected"]
        call = await stack.dial("ana", "+8613800000001")
        await stack.wait_state(call["id"], "answered")
        await proxy.cut()
        assert (await until_not_ready(stack))["checks"]["pbx"]["local"]["connected"] is False
        proxy.resume()
        ami = stack.container.pbx.client("local")
        await ami.wait_connected(15)
        assert (await stack.call(call["id"]))["state"] == "answered"  # still alive on the PBX: not ended
        r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
        assert r.status == 202
        ended = await stack.wait_state(call["id"], "ended")
        assert ended["end_reason"] == "completed"
        assert proxy.originates == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ami_cut_with_the_originate_pending_the_call_is_reconciled_on_reconnect(
        pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap, tmp_path: Path, backend: str) -> None:
    """The PBX took the Originate but the answer was lost; the call then ends on the PBX while the AMI is down.
    On reconnect the CoreShowChannels reconciliation finds it gone and ends it; nothing is sent twice."""
    async with TcpProxy(pbx.ami_host, pbx.ami_port) as proxy, \
            service_stack(pbx, tmp_path, ami_port=proxy.port, backend=backend) as stack:
        proxy.cut_before_the_originate_response()
        call = await stack.dial("nick", "+8613800000001")  # 1002 never answers: the PBX gives up after 5 s
        await asyncio.wait_for(proxy.cut_done.wait(), 10)
        assert (await until_not_ready(stack))["checks"]["pbx"]["local"]["connected"] is False
        await ami.wait_event("Hangup", Uniqueid=call["id"], within=30)  # gone from the PBX, unseen by the service
        missed = await stack.call(call["id"])
        assert missed["state"] == "requested" and missed["ended_at"] is None  # fate unknown: not failed
        proxy.resume()
        await stack.container.pbx.client("local").wait_connected(15)
        ended = await stack.wait_state(call["id"], "ended")
        assert (ended["end_reason"], ended["failure"]) == ("failed", "lost-by-pbx")  # by the reconciliation
        assert proxy.originates == 1


async def test_asterisk_restart_fails_calls_in_flight_and_new_calls_work(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    async with service_stack(pbx, tmp_path) as stack:
        call = await stack.dial("ana", "+8613800000001")
        await stack.wait_state(call["id"], "answered")
        await pbx.restart()
        ended = await stack.wait_state(call["id"], "ended")
        assert ended["end_reason"] == "failed"
        await stack.container.pbx.client("local").wait_connected(20)
        await asyncio.sleep(2.5)  # agent phones re-register after the restart (qualify)
        # a phone that went away logged its agent out (presence): the agent says it is back, as in the console
        r = await stack.client.put("/v1/agents/ana/state", json={"state": "available"}, headers=stack.auth("ana"))
        assert r.status == 200, await r.text()
        again = await stack.dial("ana", "+8613800000001")
        await stack.wait_state(again["id"], "answered")
        await stack.client.post(f"/v1/calls/{again['id']}/hangup", headers=stack.auth("ana"))
        assert (await stack.wait_state(again["id"], "ended"))["end_reason"] == "completed"
