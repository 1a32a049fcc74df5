"""What the PBX gateway sends for a transfer, through the real AMI client to a scripted AMI server: the
variables first, then the transfer; a refused transfer clears the variables again (so the agent's hang-up
ends the call as before); nothing but UUIDs, digits, SIP users and channel names is ever sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from config.settings import PbxSettings
from dialer.ami import AmiClient, AmiMessage
from dialer.errors import InvalidPresentedNumber, PbxUnavailable
from dialer.pbx import PbxGateway
from tests.unit.dialer.ami.fake_ami import FakeAmi, FakeConn
from tests.unit.dialer.ami.test_client import FAST

X, LEG, BACK = ("a" * 8 + "-aaaa-4aaa-8aaa-" + "a" * 12, "b" * 8 + "-bbbb-4bbb-8bbb-" + "b" * 12,
                "c" * 8 + "-cccc-4ccc-8ccc-" + "c" * 12)
AGENT, CUSTOMER = "PJSIP/1001-00000001", "PJSIP/customers-00000002"


@asynccontextmanager
async def gateway(refuse: str | None = None) -> AsyncIterator[tuple[PbxGateway, FakeAmi]]:
    def handle(conn: FakeConn, action: AmiMessage) -> None:
        if action.get("Action") == refuse:
            conn.reply(action, "Error", ("Message", "No active bridge"))
        else:
            conn.reply(action, "Success")

    settings = PbxSettings(name="local", ami_port=5038, agent_ring_timeout_s=7)
    async with FakeAmi(handle) as fake, AmiClient("127.0.0.1", fake.port, "callguard", "s3cret", **FAST) as ami:
        await ami.wait_connected(5)
        yield PbxGateway({"local": ami}, [settings]), fake


def sent(fake: FakeAmi) -> list[tuple[str | None, ...]]:
    return [(a.get("Action"), a.get("Channel"), a.get("Variable"), a.get("Value"), a.get("Exten"))
            for a in fake.actions if a.get("Action") not in ("Login", "Ping", "Logoff")]


async def test_blind_transfer_sets_the_variables_then_transfers_the_agents_channel() -> None:
    async with gateway() as (pbx, fake):
        await pbx.blind_transfer("local", agent_channel=AGENT, customer_channel=CUSTOMER, target="1005",
                                 transfer_id=X, seq=2, target_leg=LEG, back="1001", back_leg=BACK)
    assert sent(fake) == [
        ("Setvar", AGENT, "CALLGUARD_XFER", X, None),
        ("Setvar", CUSTOMER, "CALLGUARD_XFER", X, None), ("Setvar", CUSTOMER, "XFER_LEG", LEG, None),
        ("Setvar", CUSTOMER, "XFER_SEG", "2", None), ("Setvar", CUSTOMER, "XFER_BACK", "1001", None),
        ("Setvar", CUSTOMER, "XFER_BACK_LEG", BACK, None), ("Setvar", CUSTOMER, "XFER_TIMEOUT", "7", None),
        ("BlindTransfer", AGENT, None, None, "1005")]
    [transfer] = [a for a in fake.actions if a.get("Action") == "BlindTransfer"]
    assert transfer.get("Context") == "callguard-transfer"


async def test_a_refused_transfer_clears_the_variables_and_is_pbx_unavailable() -> None:
    async with gateway(refuse="BlindTransfer") as (pbx, fake):
        with pytest.raises(PbxUnavailable):
            await pbx.blind_transfer("local", agent_channel=AGENT, customer_channel=CUSTOMER, target="1005",
                                     transfer_id=X, seq=1, target_leg=LEG, back="1001", back_leg=BACK)
    assert sent(fake)[-2:] == [("Setvar", AGENT, "CALLGUARD_XFER", "", None),
                               ("Setvar", CUSTOMER, "CALLGUARD_XFER", "", None)]
    async with gateway(refuse="Redirect") as (pbx, fake):
        with pytest.raises(PbxUnavailable):
            await pbx.attended_transfer("local", agent_channel=AGENT, customer_channel=CUSTOMER, target="1005",
                                        transfer_id=X, seq=1, target_leg=LEG)
    assert sent(fake)[-2:] == [("Setvar", AGENT, "CALLGUARD_XFER", "", None),
                               ("Setvar", CUSTOMER, "CALLGUARD_XFER", "", None)]


async def test_attended_transfer_redirects_both_channels_at_once_and_completes_with_a_bridge() -> None:
    async with gateway() as (pbx, fake):
        await pbx.attended_transfer("local", agent_channel=AGENT, customer_channel=CUSTOMER, target="1005",
                                    transfer_id=X, seq=1, target_leg=LEG)
        [redirect] = [a for a in fake.actions if a.get("Action") == "Redirect"]
        assert (redirect.get("Action"), redirect.get("Channel"), redirect.get("Context"), redirect.get("ExtraChannel"),
                redirect.get("ExtraContext"), redirect.get("ExtraExten")) == (
            "Redirect", CUSTOMER, "callguard-xfer-hold", AGENT, "callguard-xfer-consult", "1005")
        assert ("Setvar", AGENT, "XFER_PEER", CUSTOMER, None) in sent(fake)
        await pbx.complete_transfer("local", agent_channel=AGENT, customer_channel=CUSTOMER,
                                    target_channel="PJSIP/1005-00000003")
    done, bridge = [a for a in fake.actions if a.get("Action") in ("Setvar", "Bridge")][-2:]
    assert (done.get("Channel"), done.get("Variable"), done.get("Value")) == (AGENT, "XFER_DONE", "yes")
    assert (bridge.get("Action"), bridge.get("Channel1"), bridge.get("Channel2")) == (
        "Bridge", CUSTOMER, "PJSIP/1005-00000003")


@pytest.mark.parametrize("bad", [{"target": "1005\r\nAction: Hangup"}, {"target": "PJSIP/1005"},
                                 {"back": "1001,evil"}, {"transfer_id": "x"}, {"target_leg": LEG.upper()}])
async def test_nothing_else_reaches_the_pbx(bad: dict[str, str]) -> None:
    args: dict[str, Any] = {"agent_channel": AGENT, "customer_channel": CUSTOMER, "target": "1005",
                            "transfer_id": X, "seq": 1, "target_leg": LEG, "back": "1001", "back_leg": BACK, **bad}
    async with gateway() as (pbx, fake):
        with pytest.raises(ValueError):
            await pbx.blind_transfer("local", **args)
        with pytest.raises(ValueError):
            await pbx.attended_transfer("local", agent_channel=AGENT, customer_channel="PJSIP/x\r\nAction: Hangup",
                                        target="1005", transfer_id=X, seq=1, target_leg=LEG)
    assert sent(fake) == []


async def test_a_transfer_to_a_number_sends_only_e164_and_the_presented_number() -> None:
    async with gateway() as (pbx, fake):
        await pbx.blind_transfer_out("local", agent_channel=AGENT, customer_channel=CUSTOMER, number="+8613800000101",
                                     presented="+861087654321", transfer_id=X, seq=1, target_leg=LEG, back="1001",
                                     back_leg=BACK)
    assert sent(fake) == [
        ("Setvar", AGENT, "CALLGUARD_XFER", X, None),
        ("Setvar", CUSTOMER, "CALLGUARD_XFER", X, None), ("Setvar", CUSTOMER, "XFER_LEG", LEG, None),
        ("Setvar", CUSTOMER, "XFER_SEG", "1", None), ("Setvar", CUSTOMER, "XFER_BACK", "1001", None),
        ("Setvar", CUSTOMER, "XFER_BACK_LEG", BACK, None), ("Setvar", CUSTOMER, "XFER_TIMEOUT", "7", None),
        ("Setvar", CUSTOMER, "OUTBOUND_CLI", "+861087654321", None),
        ("BlindTransfer", AGENT, None, None, "+8613800000101")]
    [transfer] = [a for a in fake.actions if a.get("Action") == "BlindTransfer"]
    assert transfer.get("Context") == "callguard-transfer-out"
    async with gateway(refuse="Redirect") as (pbx, fake):
        with pytest.raises(PbxUnavailable):
            await pbx.attended_transfer_out("local", agent_channel=AGENT, customer_channel=CUSTOMER,
                                            number="+8613800000101", presented=None, transfer_id=X, seq=1,
                                            target_leg=LEG)
    [redirect] = [a for a in fake.actions if a.get("Action") == "Redirect"]
    assert (redirect.get("ExtraContext"), redirect.get("ExtraExten")) == ("callguard-xfer-consult-out",
                                                                          "+8613800000101")
    assert ("Setvar", AGENT, "OUTBOUND_CLI", "", None) in sent(fake)  # no client number: the PBX default
    assert sent(fake)[-2:] == [("Setvar", AGENT, "CALLGUARD_XFER", "", None),
                               ("Setvar", CUSTOMER, "CALLGUARD_XFER", "", None)]


@pytest.mark.parametrize("bad", [{"number": "+8613800000101\r\nAction: Hangup"}, {"number": "8613800000101"},
                                 {"number": "+86138-0000-0101"}, {"number": "${EXTEN}"}, {"number": "+0123456789"},
                                 {"presented": "+86,1"}, {"back": "1001,evil"}, {"back_leg": "x"},
                                 {"customer_channel": "PJSIP/x\r\nAction: Hangup"}])
async def test_nothing_but_an_e164_number_reaches_the_pbx(bad: dict[str, str]) -> None:
    args: dict[str, Any] = {"agent_channel": AGENT, "customer_channel": CUSTOMER, "number": "+8613800000101",
                            "presented": "+861087654321", "transfer_id": X, "seq": 1, "target_leg": LEG,
                            "back": "1001", "back_leg": BACK, **bad}
    async with gateway() as (pbx, fake):
        with pytest.raises((ValueError, InvalidPresentedNumber)):
            await pbx.blind_transfer_out("local", **args)
        if "back" not in bad and "back_leg" not in bad:
            with pytest.raises((ValueError, InvalidPresentedNumber)):
                await pbx.attended_transfer_out("local", **{k: v for k, v in args.items()
                                                            if k not in ("back", "back_leg")})
    assert sent(fake) == []
