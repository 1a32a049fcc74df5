"""Capture raw AMI traces of the click-to-dial scenarios from a real sandbox PBX.

``python -m sandbox.capture OUTDIR`` starts a PBX and the phones, runs each scenario on its own AMI
connection and writes ``OUTDIR/<scenario>.trace`` (raw bytes as received, banner included) and
``OUTDIR/<scenario>.txt`` (one line per event with the fields the call state machine cares about).
A developer tool: it paces itself with short sleeps, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from sandbox.amitap import AmiTap, Message
from sandbox.pbx import AgentAccount, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port

PASSWORD = "capture-secret"
SUMMARY_FIELDS = (
    "Event", "Channel", "Uniqueid", "Linkedid", "ChannelState", "ChannelStateDesc", "DialStatus", "Cause",
    "Cause-txt", "Response", "Reason", "DestChannel", "DestUniqueid", "ChanVariable", "Context", "Exten",
    "Disposition", "UserField", "BridgeUniqueid",
)
QUIET_EVENTS = frozenset({"VarSet", "Newexten", "RTCPSent", "RTCPReceived", "CoreShowChannel",
                          "CoreShowChannelsComplete", "ContactStatus"})


@dataclass(frozen=True)
class Scenario:
    """One Originate: which agent, which number, optional agent hang-up after N seconds."""

    name: str
    agent: str
    number: str
    agent_hangs_up_after: float | None = None
    originate_timeout_ms: int = 10000
    transfer_to: str | None = None  # transfer to this SIP user 1 s after the customer answered
    attended: str | None = None  # an attended transfer, then "complete" or "cancel" 2 s into the consultation
    hangs_up: str | None = None  # the phone that hangs up ``agent_hangs_up_after`` s after the transfer
    transfer_out: str | None = None  # a transfer to this outside number (through the customer trunk) instead


SCENARIOS = (
    Scenario("answered_call", "1001", "+8613800000001", agent_hangs_up_after=3.0),
    Scenario("customer_hangs_up", "1001", "+8613800000002"),
    Scenario("customer_busy", "1001", "+8613800000486"),
    Scenario("customer_no_answer", "1001", "+8613800000408"),
    Scenario("customer_unavailable_503", "1001", "+8613800000503"),
    Scenario("customer_not_found_404", "1001", "+8613800000404"),
    Scenario("agent_no_answer", "1002", "+8613800000001", originate_timeout_ms=3000),
    Scenario("agent_reject", "1003", "+8613800000001"),
    Scenario("agent_offline", "1004", "+8613800000001"),
    Scenario("blind_transfer", "1001", "+8613800000001", agent_hangs_up_after=3.0, transfer_to="1005",
             hangs_up="1005"),
    Scenario("blind_transfer_not_answered", "1001", "+8613800000001", agent_hangs_up_after=10.0,
             transfer_to="1002", hangs_up="1001"),
    Scenario("attended_transfer_completed", "1001", "+8613800000001", agent_hangs_up_after=3.0,
             transfer_to="1005", hangs_up="1005", attended="complete"),
    Scenario("attended_transfer_cancelled", "1001", "+8613800000001", agent_hangs_up_after=3.0,
             transfer_to="1005", hangs_up="1001", attended="cancel"),
    Scenario("attended_transfer_not_answered", "1001", "+8613800000001", agent_hangs_up_after=8.0,
             transfer_to="1002", hangs_up="1001", attended="wait"),
    # transfers to an outside number (dialer/pbx.py ``blind_transfer_out``, ``attended_transfer_out``): the
    # simulated customer line answers 0101 and lets 0408 ring; "customer" hangs up every call of that line
    Scenario("blind_transfer_out", "1001", "+8613800000001", agent_hangs_up_after=3.0,
             hangs_up="customer", transfer_out="+8613800000101"),
    Scenario("blind_transfer_out_not_answered", "1001", "+8613800000001", agent_hangs_up_after=10.0,
             hangs_up="1001", transfer_out="+8613800000408"),
    Scenario("attended_transfer_out_completed", "1001", "+8613800000001", agent_hangs_up_after=3.0,
             hangs_up="customer", attended="complete", transfer_out="+8613800000101"),
)
PRESENTED = "+862161234567"
TRANSFER_RING_S = 4
AGENTS = (
    AgentPhone("1001", PASSWORD, behaviour="answer", answer_delay=0.3),
    AgentPhone("1002", PASSWORD, behaviour="never"),
    AgentPhone("1003", PASSWORD, behaviour="reject", reject_code=486),
    AgentPhone("1004", PASSWORD, behaviour="offline"),
    AgentPhone("1005", PASSWORD, behaviour="answer", answer_delay=0.3, tone_hz=900),
)


def summarise(messages: list[Message]) -> str:
    """One line per interesting event."""
    lines = []
    for message in messages:
        if "Event" in message and message["Event"] not in QUIET_EVENTS:
            lines.append(" | ".join(f"{k}={message[k]}" for k in SUMMARY_FIELDS if k in message))
    return "\n".join(lines) + "\n"


async def run_scenario(pbx: PbxSandbox, phones: PhonesProcess, scenario: Scenario, out: Path) -> None:
    """Run one scenario on a fresh AMI connection and write its trace + summary."""
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as ami:
        call_id = str(uuid.uuid4())
        await ami.action(
            "Originate", Channel=f"PJSIP/{scenario.agent}", Context="callguard-outbound",
            Exten=scenario.number, Priority="1", Async="true", ChannelId=call_id,
            Variable=f"__CALL_ID={call_id},CALLGUARD_GO=yes", Timeout=str(scenario.originate_timeout_ms),
            CallerID=f"Callguard <{scenario.number}>",
        )
        await ami.wait_event("OriginateResponse", Uniqueid=call_id, within=30)
        ids = ""
        transfers = scenario.transfer_to is not None or scenario.transfer_out is not None
        if transfers and scenario.attended is not None:
            ids = await _attended_transfer(ami, call_id, scenario)
        elif transfers:
            ids = await _blind_transfer(ami, call_id, scenario)
        if scenario.agent_hangs_up_after is not None:
            await asyncio.sleep(scenario.agent_hangs_up_after)
            await phones.send({"cmd": "hangup", "phone": scenario.hangs_up or scenario.agent})
        for _ in range(120):
            await asyncio.sleep(0.5)
            channels = await ami.collect_list("CoreShowChannels", "CoreShowChannelsComplete")
            if not channels:
                break
        await asyncio.sleep(1.0)  # trailing Cdr events
        (out / f"{scenario.name}.trace").write_bytes(bytes(ami.raw))
        (out / f"{scenario.name}.txt").write_text(f"call id {call_id}{ids}\n" + summarise(ami.messages))


async def _attended_transfer(ami: AmiTap, call_id: str, scenario: Scenario) -> str:
    """What the service does for an attended transfer (dialer/pbx.py ``attended_transfer``, then
    ``complete_transfer`` or a hang-up of the target to cancel); the ids, for the summary's first line."""
    up = await ami.wait(lambda m: m.get("Event") == "Newstate" and m.get("Linkedid") == call_id
                        and m.get("Uniqueid") != call_id and m.get("ChannelState") == "6", within=30)
    agent = await ami.wait(lambda m: m.get("Event") == "Newstate" and m.get("Uniqueid") == call_id
                           and m.get("ChannelState") == "6")
    await asyncio.sleep(1.0)
    xfer, leg = str(uuid.uuid4()), str(uuid.uuid4())
    out = scenario.transfer_out
    agent_vars = [("CALLGUARD_XFER", xfer), ("XFER_LEG", leg), ("XFER_TIMEOUT", str(TRANSFER_RING_S)),
                  ("XFER_PEER", up["Channel"]), ("XFER_DONE", "")]
    if out is not None:  # the outside party sees the client's number (OUTBOUND_CLI on the consulting channel)
        agent_vars.append(("OUTBOUND_CLI", PRESENTED))
    for name, value in agent_vars:
        await ami.action("Setvar", Channel=agent["Channel"], Variable=name, Value=value)
    for name, value in (("CALLGUARD_XFER", xfer), ("XFER_SEG", "1")):
        await ami.action("Setvar", Channel=up["Channel"], Variable=name, Value=value)
    await ami.action("Redirect", Channel=up["Channel"], Context="callguard-xfer-hold", Exten="s", Priority="1",
                     ExtraChannel=agent["Channel"],
                     ExtraContext="callguard-xfer-consult" if out is None else "callguard-xfer-consult-out",
                     ExtraExten=out or scenario.transfer_to or "", ExtraPriority="1")
    if scenario.attended in ("complete", "cancel"):
        prefix = f"PJSIP/{scenario.transfer_to}-" if out is None else "PJSIP/customers-"
        target = await ami.wait(lambda m: m.get("Event") == "Newstate" and m.get("ChannelState") == "6"
                                and m.get("Channel", "").startswith(prefix) and m.get("Channel") != up["Channel"],
                                within=20)
        await asyncio.sleep(2.0)
        if scenario.attended == "complete":
            await ami.action("Setvar", Channel=agent["Channel"], Variable="XFER_DONE", Value="yes")
            await ami.action("Bridge", Channel1=up["Channel"], Channel2=target["Channel"], Tone="no")
        else:
            await ami.action("Hangup", Channel=target["Channel"], Cause="16")
    return f" transfer {xfer} target leg {leg} back leg -"


async def _blind_transfer(ami: AmiTap, call_id: str, scenario: Scenario) -> str:
    """What the service does (dialer/pbx.py ``blind_transfer``) once the customer answered; the ids, for the
    summary's first line."""
    up = await ami.wait(lambda m: m.get("Event") == "Newstate" and m.get("Linkedid") == call_id
                        and m.get("Uniqueid") != call_id and m.get("ChannelState") == "6", within=30)
    agent = await ami.wait(lambda m: m.get("Event") == "Newstate" and m.get("Uniqueid") == call_id
                           and m.get("ChannelState") == "6")
    await asyncio.sleep(1.0)
    xfer, leg, back = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    out = scenario.transfer_out
    await ami.action("Setvar", Channel=agent["Channel"], Variable="CALLGUARD_XFER", Value=xfer)
    customer_vars = [("CALLGUARD_XFER", xfer), ("XFER_LEG", leg), ("XFER_SEG", "1"), ("XFER_BACK", scenario.agent),
                     ("XFER_BACK_LEG", back), ("XFER_TIMEOUT", str(TRANSFER_RING_S))]
    if out is not None:  # the outside party sees the client's number
        customer_vars.append(("OUTBOUND_CLI", PRESENTED))
    for name, value in customer_vars:
        await ami.action("Setvar", Channel=up["Channel"], Variable=name, Value=value)
    await ami.action("BlindTransfer", Channel=agent["Channel"],
                     Context="callguard-transfer" if out is None else "callguard-transfer-out",
                     Exten=out or scenario.transfer_to or "")
    return f" transfer {xfer} target leg {leg} back leg {back}"


async def capture(out: Path, only: frozenset[str] = frozenset()) -> None:
    """Start PBX + phones and run every scenario, or those named in ``only`` (``out`` must exist)."""
    pbx = PbxSandbox(
        ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM), customer_trunk_port=free_tcp_udp_port(),
        agents=[AgentAccount(a.sip_user, a.password) for a in AGENTS], customer_dial_timeout=4,
    )
    async with pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port, agents=list(AGENTS))
        async with PhonesProcess(config) as phones:
            for scenario in SCENARIOS:
                if only and scenario.name not in only:
                    continue
                await run_scenario(pbx, phones, scenario, out)
                print(f"captured {scenario.name}")


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.capture")
    parser.add_argument("out", type=Path)
    parser.add_argument("scenarios", nargs="*", help="only these scenarios (default: all)")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(capture(out, frozenset(args.scenarios)))


if __name__ == "__main__":
    main()
