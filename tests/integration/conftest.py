"""Session-scoped real PBX (Asterisk 22 in the cached rootfs) + simulated phones on free ports.

Shared by every integration area. Agents:
1001 answers after 0.3 s, 1002 never answers, 1003 rejects (486), 1004 is offline (never
registers), 1005 answers. 1099 is the recording probe's own SIP account (the only one that may dial
``probe``).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator

import pytest_asyncio

from sandbox.amitap import AmiTap
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port

AGENT_PASSWORD = "agent-secret-1"
AGENT_PHONES: tuple[AgentPhone, ...] = (
    AgentPhone("1001", AGENT_PASSWORD, behaviour="answer", answer_delay=0.3),
    AgentPhone("1002", AGENT_PASSWORD, behaviour="never"),
    AgentPhone("1003", AGENT_PASSWORD, behaviour="reject", reject_code=486),
    AgentPhone("1004", AGENT_PASSWORD, behaviour="offline"),
    AgentPhone("1005", AGENT_PASSWORD, behaviour="answer", answer_delay=0.3),
)
AGENTS: dict[str, str] = {phone.sip_user: phone.behaviour for phone in AGENT_PHONES}
PROBE_PHONE = AgentPhone("1099", "probe-secret-1", behaviour="never")
CUSTOMER_DIAL_TIMEOUT = 4


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pbx() -> AsyncIterator[PbxSandbox]:
    """A running Asterisk with the agents above and a customer trunk port."""
    sandbox = PbxSandbox(
        ami_port=free_port(),
        sip_port=free_port(socket.SOCK_DGRAM),
        customer_trunk_port=free_tcp_udp_port(),
        agents=[AgentAccount(user, AGENT_PASSWORD) for user in AGENTS],
        probe_accounts=[AgentAccount(PROBE_PHONE.sip_user, PROBE_PHONE.password)],
        customer_dial_timeout=CUSTOMER_DIAL_TIMEOUT,
    )
    async with sandbox:
        yield sandbox


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def phones(pbx: PbxSandbox) -> AsyncIterator[PhonesProcess]:
    """The phones process: agents registered to ``pbx`` + the customer line on its trunk port."""
    config = PhonesConfig(
        pbx_host=pbx.sip_host,
        pbx_port=pbx.sip_port,
        customer_port=pbx.settings.customer_trunk_port,
        agents=[dataclasses.replace(phone) for phone in (*AGENT_PHONES, PROBE_PHONE)],
    )
    async with PhonesProcess(config) as process:
        yield process


@pytest_asyncio.fixture(loop_scope="session")
async def ami(pbx: PbxSandbox) -> AsyncIterator[AmiTap]:
    """A fresh AMI connection per test on the sandbox's tooling account (raw bytes kept in ``ami.raw``)."""
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as tap:
        yield tap
