"""Presence across an AMI outage (scenario "PBX connection down"): a phone that unregisters while the service
cannot hear the PBX is seen offline as soon as the connection is back (the device sync after every connect),
and nothing was guessed meanwhile.

The service reaches the PBX's AMI through a TCP proxy that the test cuts; pete's phone (1005) unregisters
during the cut and registers again at the end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def state_of(stack: Stack, agent: str) -> dict[str, Any]:
    body: dict[str, Any] = await (await stack.client.get(f"/v1/agents/{agent}/state",
                                                         headers=stack.auth("sup"))).json()
    return body


async def until_ready(stack: Stack, connected: bool, within: float = 15.0) -> None:
    """Poll /readyz until the PBX connection is (or is not) up (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            ready = await (await stack.client.get("/readyz")).json()
            if ready["checks"]["pbx"]["local"]["connected"] is connected:
                return
            await asyncio.sleep(0.05)


async def test_a_phone_that_unregisters_while_the_pbx_is_unheard_is_offline_once_it_is_heard_again(
        pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> None:
    async with TcpProxy(pbx.ami_host, pbx.ami_port) as proxy, \
            service_stack(pbx, tmp_path, ami_port=proxy.port) as stack:
        await stack.container.presence.sync_devices("local")
        assert (await state_of(stack, "pete"))["state"] == "available"
        await proxy.cut()
        await until_ready(stack, connected=False)
        mark = phones.mark()
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "offline"})
        try:
            await phones.wait_for("unregistered", user="1005", since=mark)
            unheard = await state_of(stack, "pete")
            assert (unheard["state"], unheard["registered"]) == ("available", True)  # the last word it heard
            proxy.resume()
            await until_ready(stack, connected=True)
            async with asyncio.timeout(15):  # the sync after the reconnect reads every phone
                while True:
                    heard = await state_of(stack, "pete")
                    if heard["state"] == "offline":
                        break
                    await asyncio.sleep(0.05)
            assert (heard["reason"], heard["registered"]) == ("phone_unregistered", False)
        finally:
            back = phones.mark()
            await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "answer"})
            await phones.wait_for("registered", user="1005", since=back)
