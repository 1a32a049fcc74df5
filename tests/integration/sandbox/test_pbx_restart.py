"""Asterisk restarted mid-call: the call's legs end, AMI drops, the PBX comes back and works again."""

from __future__ import annotations

import socket

import pytest

from sandbox.amitap import AmiTap
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.sandbox.helpers import originate, wait_for_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_restart_mid_call() -> None:
    pbx = PbxSandbox(
        ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM), customer_trunk_port=free_tcp_udp_port(),
        agents=[AgentAccount("2001", "pw-2001")],
    )
    async with pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port,
                              agents=[AgentPhone("2001", "pw-2001", answer_delay=0.2)])
        async with PhonesProcess(config) as phones:
            async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as ami:
                call_id = await originate(ami, "2001", "+8613800000001")
                # (the service's account: the customer's answer is its DialEnd; BridgeEnter is filtered out)
                await ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
                mark = phones.mark()
                await pbx.restart()
                # Asterisk hangs the channels up on shutdown: both phones see the call end.
                await phones.wait_for("ended", phone="2001", since=mark)
                await phones.wait_for("ended", phone="customer", since=mark)
                assert ami.closed
            # The recording is closed (and marked done) by the shutdown.
            await wait_for_file(pbx.spool_dir / f"{call_id}.done")
            async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as ami:
                # The agent registration lives in the instance's astdb, so calls work right away.
                call_id = await originate(ami, "2001", "+8613800000001")
                response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
                assert response["Response"] == "Success"
