"""Click-to-dial through the real PBX: Originate -> agent answers -> MixMonitor -> customer dialled."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.sandbox.helpers import (
    customer_leg_hangup,
    dominant_frequency,
    originate,
    wait_for_file,
    wav_frames,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_answered_call_end_to_end(pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap) -> None:
    mark = phones.mark()
    call_id = await originate(ami, "1001", "+8613800000001", cli="+8657100000000")

    await phones.wait_for("answered", phone="1001", since=mark)
    incoming = await phones.wait_for("incoming", phone="customer", number="+8613800000001", since=mark)
    assert incoming["headers"]["x-callguard-call-id"] == call_id
    assert "sip:+8657100000000@" in incoming["remote"]  # OUTBOUND_CLI presented to the customer
    await phones.wait_for("answered", phone="customer", since=mark)

    response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
    assert (response["Response"], response["Reason"]) == ("Success", "4")
    await ami.wait_event("MixMonitorStart", Uniqueid=call_id)
    dial_end = await ami.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
    customer_uid = dial_end["DestUniqueid"]
    await ami.wait_event("BridgeEnter", Uniqueid=customer_uid)

    await asyncio.sleep(1.5)  # let both tones flow into the recording (content, not a timing assertion)
    await phones.send({"cmd": "hangup", "phone": "1001"})

    agent_hangup = await ami.wait_event("Hangup", Uniqueid=call_id)
    await ami.wait_event("Hangup", Uniqueid=customer_uid)
    assert agent_hangup["Cause"] == "16"
    assert customer_leg_hangup(ami, call_id) is not None
    cdr = await ami.wait_event("Cdr", UserField=call_id)
    assert cdr["Disposition"] == "ANSWERED"
    await phones.wait_for("ended", phone="customer", since=mark)

    # Every event of both legs (after the variable was set) carries CALL_ID; both share Linkedid.
    leg_events = [m for m in ami.messages if m.get("Uniqueid") in (call_id, customer_uid) and "Event" in m]
    assert {m["Linkedid"] for m in leg_events if "Linkedid" in m} == {call_id}
    for name in ("DialEnd", "BridgeEnter", "Hangup"):
        tagged = [m for m in leg_events if m["Event"] == name]
        assert tagged and all(m.get("ChanVariable(CALL_ID)") == call_id for m in tagged), name

    await wait_for_file(pbx.spool_dir / f"{call_id}.done")
    for suffix in ("", "-rx", "-tx"):
        frames, rate = wav_frames(pbx.spool_dir / f"{call_id}{suffix}.wav")
        assert rate == 8000
        assert frames > rate, (suffix, frames)  # more than a second of audio
    # rx = what the agent phone sent (600 Hz tone), tx = what the agent heard (customer's 1000 Hz)
    assert abs(dominant_frequency(pbx.spool_dir / f"{call_id}-rx.wav") - 600) < 60
    assert abs(dominant_frequency(pbx.spool_dir / f"{call_id}-tx.wav") - 1000) < 60


@pytest.mark.parametrize(
    ("number", "dial_status", "cause", "disposition"),
    [
        ("+8613800000486", "BUSY", "17", "BUSY"),
        ("+8613800000408", "NOANSWER", "16", "NO ANSWER"),
        ("+8613800000503", "CONGESTION", "34", "CONGESTION"),
        ("+12025550404", "NOANSWER", "1", "NO ANSWER"),
    ],
    ids=["busy", "no-answer", "unavailable-503", "not-found-404"],
)
async def test_customer_not_reached(
    pbx: PbxSandbox, phones: PhonesProcess, ami: AmiTap, number: str, dial_status: str, cause: str,
    disposition: str,
) -> None:
    call_id = await originate(ami, "1001", number)
    response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
    assert (response["Response"], response["Reason"]) == ("Success", "4")  # the agent answered
    # The Originate's own DialEnd has only Dest* fields; the customer Dial's has Uniqueid = call id.
    dial_end = await ami.wait_event("DialEnd", Uniqueid=call_id, within=15)
    assert dial_end["DialStatus"] == dial_status
    hangup = await ami.wait_event("Hangup", Uniqueid=call_id)
    assert hangup["Cause"] == cause
    cdr = await ami.wait_event("Cdr", UserField=call_id, Disposition=disposition)
    assert cdr["DestinationChannel"].startswith("PJSIP/customers")
    await wait_for_file(pbx.spool_dir / f"{call_id}.done")  # recording ran from agent answer
