"""Agent-side failures of the Originate (the agent phone is dialled first) and the recording probe."""

from __future__ import annotations

import uuid

import pytest

from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.conftest import PROBE_PHONE
from tests.integration.pbx.helpers import originate, wait_for_file, wav_frames

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_agent_never_answers(phones: PhonesProcess, ami: AmiTap) -> None:
    mark = phones.mark()
    call_id = await originate(ami, "1002", "+8613800000001", timeout_ms=2000)
    await phones.wait_for("incoming", phone="1002", since=mark)
    response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
    assert (response["Response"], response["Reason"], response["Channel"]) == ("Failure", "3", "PJSIP/1002")
    hangup = await ami.wait_event("Hangup", Uniqueid=call_id)
    assert (hangup["Cause"], hangup["ChannelStateDesc"]) == ("19", "Ringing")
    ended = await phones.wait_for("ended", phone="1002", since=mark)
    assert ended["code"] == 487 and ended["answered"] is False


async def test_agent_rejects(phones: PhonesProcess, ami: AmiTap) -> None:
    mark = phones.mark()
    call_id = await originate(ami, "1003", "+8613800000001")
    response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
    assert (response["Response"], response["Reason"]) == ("Failure", "0")
    hangup = await ami.wait_event("Hangup", Uniqueid=call_id)
    assert hangup["Cause"] == "17"
    dial_end = ami.find(lambda m: m.get("Event") == "DialEnd" and m.get("DestUniqueid") == call_id)
    assert dial_end is not None and dial_end["DialStatus"] == "BUSY"
    ended = await phones.wait_for("ended", phone="1003", since=mark)
    assert ended["code"] == 486


async def test_agent_offline(ami: AmiTap) -> None:
    call_id = await originate(ami, "1004", "+8613800000001")
    response = await ami.wait_event("OriginateResponse", Uniqueid=call_id)
    assert (response["Response"], response["Reason"], response["Channel"]) == ("Failure", "0", "PJSIP/1004")
    # No channel is ever created for an unregistered agent.
    assert ami.find(lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == call_id) is None


async def test_recording_probe(pbx: PbxSandbox, phones: PhonesProcess) -> None:
    probe_id, phone = str(uuid.uuid4()), PROBE_PHONE.sip_user
    mark = phones.mark()
    await phones.send({
        "cmd": "call", "phone": phone, "uri": f"sip:probe@{pbx.sip_host}:{pbx.sip_port}",
        "headers": {"X-Callguard-Call-Id": probe_id}, "hangup_after": 1.5,
    })
    await phones.wait_for("answered", phone=phone, direction="out", since=mark)
    ended = await phones.wait_for("ended", phone=phone, direction="out", since=mark)
    assert ended["answered"] is True
    await wait_for_file(pbx.spool_dir / f"{probe_id}.done")
    for suffix in ("", "-rx", "-tx"):
        frames, rate = wav_frames(pbx.spool_dir / f"{probe_id}{suffix}.wav")
        assert frames > rate  # > 1 s
