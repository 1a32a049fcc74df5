"""Agent presence end to end: the real service, the real Asterisk 22 (res_manager_devicestate) and real SIP
phones (pjsua2). A registered phone shows available, a call moves its agent to on_call and then wrap_up,
a phone that unregisters takes its agent offline, and registering again waits for the agent's say.

Agents (tests/integration/conftest.py): 1001 (ana) answers, 1004 (olga) never registers, 1005 (pete) answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One service (SQLite) for the module; wrap-up lasts 2 s, ended by the 0.2 s sweep."""
    async with service_stack(pbx, tmp_path_factory.mktemp("presence"),
                             presence={"wrap_up_s": 2, "sweep_interval_s": 0.2}) as s:
        # the users were created after the service connected: read every phone now, as the periodic sync would
        await s.container.presence.sync_devices("local")
        yield s


async def agent(stack: Stack, name: str) -> dict[str, Any]:
    r = await stack.client.get(f"/v1/agents/{name}/state", headers=stack.auth("sup"))
    body: dict[str, Any] = await r.json()
    assert r.status == 200, body
    return body


async def until_agent(stack: Stack, name: str, state: str, reason: str | None = None,
                      within: float = 20.0) -> dict[str, Any]:
    """Poll the API until the agent is in ``state`` (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            body = await agent(stack, name)
            if body["state"] == state and (reason is None or body["reason"] == reason):
                return body
            await asyncio.sleep(0.1)


async def test_registered_phones_show_available_and_an_unregistered_one_offline(stack: Stack) -> None:
    ana = await agent(stack, "ana")
    assert (ana["state"], ana["registered"]) == ("available", True)
    olga = await agent(stack, "olga")
    assert (olga["state"], olga["reason"], olga["registered"]) == ("offline", "phone_unregistered", False)
    r = await stack.client.post("/v1/calls", json={"agent": "olga", "number": "+8613800000001"},
                                headers=stack.auth("olga"))
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "agent-not-available", body


async def test_a_call_moves_the_agent_to_on_call_then_wrap_up_then_available(stack: Stack) -> None:
    seen: list[str] = []

    async def watch() -> None:
        async with stack.client.get("/v1/events?types=agent.", headers=stack.auth("sup")) as resp:
            async for line in resp.content:
                if not line.startswith(b"data: "):
                    continue
                event = json.loads(line[6:])
                if event.get("type") != "agent.state_changed" or event["agent_id"] != "ana":
                    continue
                if seen or event["data"]["state"] == "ringing":  # the stream may still hand out older events
                    seen.append(event["data"]["state"])
                    if seen[-1] == "available":
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(stack.container.stream.wait_for_subscribers(1), 10)
    call = await stack.dial("ana", "+8613800000001")
    await stack.wait_state(call["id"], "answered")
    on_call = await agent(stack, "ana")
    assert (on_call["state"], on_call["call_id"]) == ("on_call", call["id"])
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    await stack.wait_state(call["id"], "ended")
    wrap_up = await until_agent(stack, "ana", "wrap_up")
    assert wrap_up["call_id"] == call["id"] and wrap_up["wrap_up_until"]
    await until_agent(stack, "ana", "available")  # the 2 s wrap-up ran out (no disposition was saved)
    await asyncio.wait_for(watcher, 10)
    assert seen == ["ringing", "on_call", "wrap_up", "available"]
    history = await (await stack.client.get("/v1/agents/ana/history", headers=stack.auth("sup"))).json()
    assert [h["state"] for h in history["items"][:4]] == ["available", "wrap_up", "on_call", "ringing"]


async def test_a_phone_that_unregisters_takes_its_agent_offline_until_it_says_available(
        stack: Stack, phones: PhonesProcess) -> None:
    assert (await agent(stack, "pete"))["state"] == "available"
    await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "offline"})
    try:
        await until_agent(stack, "pete", "offline", "phone_unregistered")
        mark = phones.mark()
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "answer"})
        await phones.wait_for("registered", user="1005", since=mark)
        back = await until_agent(stack, "pete", "offline", "logged_out")
        assert back["registered"] is True
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "answer"})
    r = await stack.client.put("/v1/agents/pete/state", json={"state": "available"}, headers=stack.auth("pete"))
    assert r.status == 200 and (await r.json())["state"] == "available"
