"""AMI events per answered click-to-dial call reaching the service's account, before and after the manager.conf
event filter (issue #15, "event filtering at the source").

Real Asterisk (PbxSandbox) and SIP phones. Each call is originated on the service's own AMI account exactly as the
service does (the call id as the agent leg's Uniqueid), answered by both phones, then hung up by the agent. The
tooling account (read = all) sees every event; "before" is the part of it an account reading the service's classes
(call, user) without the filter would receive; "after" is what the service's filtered account received.

    /work/main/.venv/bin/python -m bench.ami_events [--calls 5]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections import Counter
from collections.abc import Callable

from bench._common import print_table, record
from dialer.translate import AMI_EVENTS
from sandbox.amitap import AmiTap, Message, events_of_call
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.sandbox.helpers import originate

NAME = "ami_events_per_call"
PASSWORD = "bench-secret-1"
READ_CLASSES = frozenset({"call", "user"})


def _customer_hangup(call_id: str) -> Callable[[Message], bool]:
    return lambda m: m.get("Event") == "Hangup" and m.get("Linkedid") == call_id and m.get("Uniqueid") != call_id


async def _call(service: AmiTap, phones: PhonesProcess) -> str:
    mark = phones.mark()
    call_id = await originate(service, "1001", "+8613800000001")
    await phones.wait_for("answered", phone="customer", since=mark)
    await service.wait_event("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
    await phones.send({"cmd": "hangup", "phone": "1001"})
    await phones.wait_for("ended", phone="customer", since=mark)
    return call_id


async def main(calls: int) -> None:
    pbx = PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                     customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("1001", PASSWORD)])
    async with pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port,
                              agents=[AgentPhone("1001", PASSWORD, answer_delay=0.2)])
        async with PhonesProcess(config) as phones, \
                AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as tools, \
                AmiTap(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as service:
            ids = [await _call(service, phones) for _ in range(calls)]
            for call_id in ids:  # both legs' Hangup reached both accounts
                for tap in (tools, service):
                    await tap.wait(_customer_hangup(call_id))
            before: Counter[str] = Counter()
            after: Counter[str] = Counter()
            for call_id in ids:
                before += events_of_call(tools.messages, call_id, READ_CLASSES)
                after += events_of_call(service.messages, call_id)
    assert set(after) <= AMI_EVENTS, set(after) - AMI_EVENTS
    per_before, per_after = sum(before.values()) / calls, sum(after.values()) / calls
    record(NAME, "events/call", per_after, {"unfiltered (read = call,user)": per_before},
           {"calls": calls, "dropped_by_name_per_call": {k: v / calls for k, v in (before - after).items()},
            "kept_by_name_per_call": {k: v / calls for k, v in after.items()}})
    print_table([NAME])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    asyncio.run(main(parser.parse_args().calls))
