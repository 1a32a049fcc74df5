"""The presented number, the customer line calling in, DTMF and tones, through the real PBX and real phones.

Raw AMI (the sandbox's tooling account) stands in for the service here: ``originate(..., cli=...)`` sends
what the service sends (``OUTBOUND_CLI``). The service's own path is in tests/integration/dialer.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from sandbox.amitap import AmiTap
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.sandbox.helpers import dominant_frequency, originate, wait_for_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _customer_answers(phones: PhonesProcess, ami: AmiTap, agent: str, number: str,
                            cli: str | None) -> tuple[str, dict[str, object], dict[str, object]]:
    """Originate to ``number`` and wait until the customer line answered: (call id, incoming, answered)."""
    mark = phones.mark()
    call_id = await originate(ami, agent, number, cli=cli)
    incoming = await phones.wait_for("incoming", phone="customer", number=number, since=mark, timeout=15)
    answered = await phones.wait_for("answered", phone="customer", call=incoming["call"], since=mark, timeout=15)
    return call_id, incoming, answered


async def _hang_up(phones: PhonesProcess, ami: AmiTap, agent: str, call_id: str, customer_call: object) -> None:
    await phones.send({"cmd": "hangup", "phone": agent})
    await ami.wait_event("Hangup", Uniqueid=call_id)
    await phones.wait_for("ended", phone="customer", call=customer_call, timeout=10)


async def test_the_customer_line_receives_the_presented_number(phones: PhonesProcess, ami: AmiTap) -> None:
    call_id, incoming, answered = await _customer_answers(phones, ami, "1001", "+8613800020001", "+862161234567")
    assert (incoming["caller"], incoming["from_number"], incoming["pai_number"]) == (
        "+862161234567", "+862161234567", "+862161234567")
    await _hang_up(phones, ami, "1001", call_id, answered["call"])


async def test_without_a_presented_number_the_pbx_default_applies_never_the_customers_own_number(
        pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap) -> None:
    assert pbx.settings.default_cli == ""  # this sandbox's PBX default: the number is withheld
    number = "+8613800030001"
    call_id, incoming, answered = await _customer_answers(phones, ami, "1001", number, None)
    # the agent leg's caller id (the Originate's CallerID, the customer's own number) does not leak
    assert number not in str(incoming["remote"])
    assert (incoming["caller"], incoming["from_number"], incoming["pai_number"]) == ("anonymous", "anonymous", None)
    await _hang_up(phones, ami, "1001", call_id, answered["call"])


async def test_a_pbx_with_a_default_cli_presents_it_when_the_service_sends_none() -> None:
    """Its own PBX (the session's withholds): DEFAULT_CLI is what a call without OUTBOUND_CLI presents."""
    async with PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                          customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("2001", "pw-2001")],
                          default_cli="+861012345678") as pbx, \
            PhonesProcess(PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                                       customer_port=pbx.settings.customer_trunk_port,
                                       agents=[AgentPhone("2001", "pw-2001", answer_delay=0.2)])) as phones, \
            AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as ami:
        call_id, incoming, answered = await _customer_answers(phones, ami, "2001", "+8613800080001", None)
        assert (incoming["caller"], incoming["pai_number"]) == ("+861012345678", "+861012345678")
        await _hang_up(phones, ami, "2001", call_id, answered["call"])
        # OUTBOUND_CLI still wins over the default
        call_id, incoming, answered = await _customer_answers(phones, ami, "2001", "+8613800090001", "+862161234567")
        assert incoming["caller"] == "+862161234567"
        await _hang_up(phones, ami, "2001", call_id, answered["call"])


async def test_the_customer_line_calls_in_and_callguard_inbound_announces_it_with_filtered_numbers(
        phones: PhonesProcess, ami: AmiTap) -> None:
    """The dial plan's half of the inbound contract (docs/PBX.md "Inbound calls"); the service's half is in
    tests/integration/inbound."""
    mark, since = phones.mark(), len(ami.messages)
    calling = await phones.dial("customer", "+862161234567", caller="+8613900000001")
    channel = await ami.wait_event("Newchannel", since=since, Context="callguard-inbound",
                                   Exten="+862161234567", CallerIDNum="+8613900000001")
    assert channel["Channel"].startswith("PJSIP/customers-")  # identified as the customer trunk
    announced = await ami.wait_event("UserEvent", since=since, UserEvent="CallguardInbound",
                                     Uniqueid=channel["Uniqueid"])
    assert (announced["From"], announced["To"], announced["Context"]) == (
        "+8613900000001", "+862161234567", "callguard-inbound")
    await phones.wait_for("ringing", phone="customer", call=calling["call"], since=mark, timeout=10)
    await phones.send({"cmd": "hangup", "phone": "customer", "call": calling["call"]})
    await ami.wait_event("Hangup", since=since, Uniqueid=channel["Uniqueid"])
    assert phones.find("incoming", since=mark) is None  # nothing rang anywhere without a route


async def test_dtmf_and_tones_sent_on_an_established_call_arrive(
        pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap) -> None:
    mark = phones.mark()
    call_id, _incoming, answered = await _customer_answers(phones, ami, "1005", "+8613800040001", "+862161234567")
    customer = answered["call"]
    agent = await phones.wait_for("answered", phone="1005", since=mark)
    dial_end = await ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
    await ami.wait_event("BridgeEnter", Uniqueid=dial_end["DestUniqueid"])

    await phones.send({"cmd": "dtmf", "phone": "customer", "call": customer, "digits": "1234#"})
    for digit in "1234#":  # Asterisk received them on the customer's channel and passed them to the agent
        await ami.wait_event("DTMFEnd", Uniqueid=dial_end["DestUniqueid"], Direction="Received", Digit=digit)
        await phones.wait_for("dtmf", phone="1005", call=agent["call"], direction="in", digits=digit, since=mark)
    received = [e["digits"] for e in phones.events[mark:]
                if e["event"] == "dtmf" and e["phone"] == "1005" and e["direction"] == "in"]
    assert received == list("1234#")

    await phones.send({"cmd": "tone", "phone": "customer", "call": customer, "hz": 1400})
    await phones.send({"cmd": "tone", "phone": "1005", "call": agent["call"], "hz": 900})
    await asyncio.sleep(1.5)  # let the new tones flow into the recording (content, not a timing assertion)
    await _hang_up(phones, ami, "1005", call_id, customer)
    await wait_for_file(pbx.spool_dir / f"{call_id}.done")
    # -rx = what the agent's phone sent, -tx = what the agent heard (the customer)
    assert abs(dominant_frequency(pbx.spool_dir / f"{call_id}-rx.wav") - 900) < 60
    assert abs(dominant_frequency(pbx.spool_dir / f"{call_id}-tx.wav") - 1400) < 80
