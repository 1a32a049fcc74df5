"""Click-to-dial end to end: the real service, the real Asterisk 22 and real SIP phones (pjsua2).

Agents (see tests/integration/conftest.py): 1001 answers, 1002 never answers, 1003 rejects (486),
1004 is not registered. Customer numbers by last digits: 0001 answers, 0486 busy, 0408 never answers,
0503 unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> AsyncIterator[Stack]:
    async with service_stack(pbx, tmp_path) as s:
        yield s


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
    await asyncio.sleep(0.3)
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
    ("olga", "agent_unavailable"),
])
async def test_agent_not_reached(stack: Stack, agent: str, reason: str) -> None:
    call = await stack.dial(agent, "+8613800000001")
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == reason
    assert ended["customer_ringing_at"] is None


async def test_hangup_while_the_agent_phone_rings_cancels(stack: Stack) -> None:
    call = await stack.dial("nick", "+8613800000001")
    await stack.wait_state(call["id"], "agent_ringing")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("nick"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "cancelled"


async def test_ami_cut_mid_call_and_restored_ends_right_without_a_second_originate(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    async with TcpProxy(pbx.ami_host, pbx.ami_port) as proxy, \
            service_stack(pbx, tmp_path, ami_port=proxy.port) as stack:
        ready = await (await stack.client.get("/readyz")).json()
        assert ready["checks"]["database"]["ok"] and ready["checks"]["pbx"]["local"]["connected"]
        call = await stack.dial("ana", "+8613800000001")
        await stack.wait_state(call["id"], "answered")
        await proxy.cut()
        await asyncio.sleep(1.0)  # the service notices the drop and starts reconnecting
        r = await stack.client.get("/readyz")
        assert r.status == 503 and (await r.json())["checks"]["pbx"]["local"]["connected"] is False
        proxy.resume()
        ami = stack.container.pbx.client("local")
        await ami.wait_connected(15)
        assert (await stack.call(call["id"]))["state"] == "answered"  # still alive on the PBX: not ended
        r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
        assert r.status == 202
        ended = await stack.wait_state(call["id"], "ended")
        assert ended["end_reason"] == "completed"
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
        again = await stack.dial("ana", "+8613800000001")
        await stack.wait_state(again["id"], "answered")
        await stack.client.post(f"/v1/calls/{again['id']}/hangup", headers=stack.auth("ana"))
        assert (await stack.wait_state(again["id"], "ended"))["end_reason"] == "completed"
