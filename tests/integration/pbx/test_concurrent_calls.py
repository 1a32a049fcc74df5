"""20 simultaneous answered calls through the real PBX: one phones process, one customer trunk port.

pjsua-python's wheel holds at most 4 calls per process (compiled PJSUA_MAX_CALLS); the phones process
shards its phones and relays the customer trunk, so all 20 customer legs must be answered and bridged.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from sandbox.amitap import AmiTap
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import PJSUA_MAX_CALLS, AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.pbx.helpers import originate, wait_for_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CALLS = 20
PASSWORD = "agent-secret-20"
AGENTS = [f"2{i:03d}" for i in range(1, CALLS + 1)]


@pytest_asyncio.fixture(loop_scope="session")
async def crowd() -> AsyncIterator[tuple[PbxSandbox, PhonesProcess, AmiTap]]:
    """A PBX with 20 agents, one phones process hosting them all plus the customer line, and AMI."""
    async with PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                          customer_trunk_port=free_tcp_udp_port(),
                          agents=[AgentAccount(a, PASSWORD) for a in AGENTS]) as pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port,
                              agents=[AgentPhone(a, PASSWORD, behaviour="answer", answer_delay=0.3) for a in AGENTS])
        async with PhonesProcess(config, start_timeout=60) as phones, \
                AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as ami:
            yield pbx, phones, ami


async def test_twenty_simultaneous_calls_all_bridge_and_record(
    crowd: tuple[PbxSandbox, PhonesProcess, AmiTap],
) -> None:
    pbx, phones, ami = crowd
    assert phones.find("ready", customer_port=pbx.settings.customer_trunk_port) is not None
    mark = phones.mark()
    call_ids = [await originate(ami, agent, f"+861380{i:03d}0001") for i, agent in enumerate(AGENTS)]

    # every customer leg is answered and both legs of every call enter the bridge
    customer_uids = []
    for call_id in call_ids:
        dial_end = await ami.wait_event("DialEnd", Uniqueid=call_id, within=30)
        assert dial_end["DialStatus"] == "ANSWER", dial_end
        customer_uids.append(dial_end["DestUniqueid"])
    for call_id, customer_uid in zip(call_ids, customer_uids, strict=True):
        await ami.wait_event("BridgeEnter", Uniqueid=call_id, within=15)
        await ami.wait_event("BridgeEnter", Uniqueid=customer_uid, within=15)

    # the customer line answered 20 distinct calls, one per originated call (its events come on their
    # own pipe, possibly after Asterisk's), and all are up at once: more than one pjsua process's worth
    answered: set[str] = set()
    since = mark
    while len(answered) < CALLS:
        message = await phones.wait_for("answered", phone="customer", since=since, timeout=15)
        since = next(i for i in range(since, len(phones.events)) if phones.events[i] is message) + 1
        answered.add(message["call"])
    incoming = [m for m in phones.events[mark:] if m["event"] == "incoming" and m["phone"] == "customer"]
    assert {m["call"] for m in incoming} == answered
    assert sorted(m["headers"]["x-callguard-call-id"] for m in incoming) == sorted(call_ids)
    assert len(answered) == CALLS > PJSUA_MAX_CALLS
    assert ami.find(lambda m: m.get("Event") == "Hangup" and m.get("Linkedid") in call_ids) is None
    assert phones.find("ended", since=mark) is None

    await asyncio.sleep(1.0)  # some audio into every recording (content, not a timing assertion)
    for agent in AGENTS:
        await phones.send({"cmd": "hangup", "phone": agent})
    for call_id in call_ids:
        cdr = await ami.wait_event("Cdr", UserField=call_id, within=30)
        assert cdr["Disposition"] == "ANSWERED"
    for call_id in call_ids:
        await wait_for_file(pbx.spool_dir / f"{call_id}.done", within=30)
    for agent in AGENTS:
        await phones.wait_for("ended", phone=agent, since=mark, timeout=15)
    ended = [m for m in phones.events[mark:] if m["event"] == "ended" and m["phone"] == "customer"]
    assert len(ended) == CALLS and all(m["answered"] for m in ended)
