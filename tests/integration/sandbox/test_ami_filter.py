"""The service's AMI account receives only the events the service listens to (manager.conf eventfilter), while
the calls it drives are unchanged: one answered call seen through the service's account and the tooling account
(every event of the same read classes and more) at once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from dialer.translate import AMI_EVENTS
from sandbox.amitap import AmiTap, events_of_call
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.sandbox.helpers import originate

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_one_call_sends_the_service_only_its_events(pbx: PbxSandbox, phones: PhonesProcess,
                                                          ami: AmiTap) -> None:
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as service:
        mark = phones.mark()
        call_id = await originate(service, "1001", "+8613800000001")
        await phones.wait_for("answered", phone="customer", since=mark)
        await service.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
        await phones.send({"cmd": "hangup", "phone": "1001"})
        await service.wait_event("Hangup", Uniqueid=call_id)
        await ami.wait_event("Hangup", Uniqueid=call_id)
        await ami.wait(lambda m: m.get("Event") == "Hangup" and m.get("Linkedid") == call_id
                       and m.get("Uniqueid") != call_id)
        await service.wait(lambda m: m.get("Event") == "Hangup" and m.get("Linkedid") == call_id
                           and m.get("Uniqueid") != call_id)
        await asyncio.sleep(0)
        seen, everything = events_of_call(service.messages, call_id), events_of_call(ami.messages, call_id)
        unfiltered = events_of_call(ami.messages, call_id, frozenset({"call", "user"}))  # the account's read classes

    assert set(seen) <= AMI_EVENTS, set(seen) - AMI_EVENTS
    # every event of a kind the service listens to still arrives, as often as the PBX sends it
    assert seen == Counter({name: n for name, n in everything.items() if name in AMI_EVENTS})
    assert {"Newchannel", "DialBegin", "DialEnd", "Hangup", "OriginateResponse"} <= set(seen)
    print(f"events per answered call to the service's account: {sum(unfiltered.values())} without the filter "
          f"(its read classes call,user), {sum(seen.values())} with it; dropped: {dict(unfiltered - seen)}")
    assert sum(seen.values()) < sum(unfiltered.values())
