"""Inbound calls in AMI, as Asterisk 22 sent them (captured on the sandbox, docs/PBX.md "Inbound calls"): the dial
plan's UserEvent becomes an offer only when every field is ours; the legs marked CALL_LEG become the call's facts;
the service's answer reaches the PBX only in the one shape the dial plan accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import PbxSettings
from dialer.ami import AmiParser
from dialer.pbx import PbxGateway
from dialer.states import CallFacts, EndReason, derive
from dialer.translate import InboundOffer, translate, translate_inbound

T0 = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
CID = "e0f60947-42af-443d-a4b0-a9b7e38d9ad0"
USER_EVENT = (
    "Event: UserEvent\r\nPrivilege: user,all\r\nTimestamp: 1796470237.599950\r\nSystemName: callguard-sandbox\r\n"
    "Channel: {channel}\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: +8613900000101\r\n"
    "CallerIDName: <unknown>\r\nContext: callguard-inbound\r\nExten: +862161230001\r\nPriority: 7\r\n"
    "Uniqueid: {uniqueid}\r\nLinkedid: {uniqueid}\r\nChanVariable: CALL_ID=\r\nChanVariable: CALL_LEG=\r\n"
    "UserEvent: {name}\r\nFrom: {caller}\r\nTo: {dialled}\r\n\r\n")


def _msg(text: str) -> Any:
    [msg] = AmiParser().feed(text.encode())
    return msg


def _user_event(**over: str) -> Any:
    fields = {"channel": "PJSIP/customers-00000000", "uniqueid": "callguard-sandbox-1796470237.0",
              "name": "CallguardInbound", "caller": "+8613900000101", "dialled": "+862161230001", **over}
    return _msg(USER_EVENT.format(**fields))


def _channel(event: str, leg: str, uniqueid: str, **fields: str) -> Any:
    extra = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return _msg(f"Event: {event}\r\nChannel: PJSIP/x-00000001\r\nUniqueid: {uniqueid}\r\n"
                f"Linkedid: callguard-sandbox-1.0\r\nChanVariable: CALL_ID={CID}\r\nChanVariable: CALL_LEG={leg}\r\n"
                f"{extra}Timestamp: 1796470240.0\r\n\r\n")


def test_the_dial_plan_s_user_event_is_an_offer() -> None:
    offer = translate_inbound(_user_event(), T0)
    assert offer == InboundOffer("PJSIP/customers-00000000", "callguard-sandbox-1796470237.0", "+8613900000101",
                                 "+862161230001", datetime.fromtimestamp(1796470237.59995, UTC))
    assert translate(_user_event(), T0) is None  # not a call fact
    assert translate_inbound(_user_event(caller=""), T0) is not None  # a withheld number is still a caller


@pytest.mark.parametrize("over", [
    {"name": "SomethingElse"},
    {"caller": "+86139;touch /tmp/x"},
    {"caller": "1" * 21},
    {"dialled": ""},
    {"dialled": "+8621,CALLGUARD_ROUTE=x"},
    {"channel": "PJSIP/customers-00000000 Variable: X"},
    {"channel": "Local/x@callguard-inbound-00000001;1"},
    {"uniqueid": "a b"},
])
def test_anything_not_ours_is_no_offer(over: dict[str, str]) -> None:
    assert translate_inbound(_user_event(**over), T0) is None


def test_the_caller_leg_ends_the_call_and_its_answer_is_the_call_s_but_not_the_message_s() -> None:
    at = datetime.fromtimestamp(1796470240.0, UTC)
    up = translate(_channel("Newstate", "caller", "callguard-sandbox-1.0", ChannelState="6"), T0)
    assert up is not None and up.call_id == CID and up.facts["answered_at"] == at
    message = translate(_channel("Newstate", "message", "callguard-sandbox-1.0", ChannelState="6"), T0)
    assert message is not None and "answered_at" not in message.facts
    assert message.facts["message_at"] == at  # the dial plan sent the caller to the message
    for leg in ("caller", "message"):
        hangup = translate(_channel("Hangup", leg, "callguard-sandbox-1.0", Cause="16"), T0)
        assert hangup is not None and hangup.facts == {"ended_at": at, "customer_cause": 16,
                                                       "customer_cause_text": None}


def test_the_agent_leg_rings_and_answers_but_its_hang_up_does_not_end_the_call() -> None:
    at = datetime.fromtimestamp(1796470240.0, UTC)
    ringing = translate(_channel("Newstate", "agent", "callguard-sandbox-1.1", ChannelState="5"), T0)
    assert ringing is not None and ringing.facts["agent_ringing_at"] == at
    answered = translate(_channel("Newstate", "agent", "callguard-sandbox-1.1", ChannelState="6"), T0)
    assert answered is not None and answered.facts["agent_answered_at"] == at
    hangup = translate(_channel("Hangup", "agent", "callguard-sandbox-1.1", Cause="19"), T0)
    assert hangup is not None and hangup.facts == {"agent_cause": 19, "agent_cause_text": None}
    dial_end = translate(_channel("DialEnd", "caller", "callguard-sandbox-1.0", DialStatus="NOANSWER",
                                  DestUniqueid="callguard-sandbox-1.1"), T0)
    assert dial_end is not None and dial_end.facts == {"agent_dial_status": "NOANSWER"}
    assert translate(_channel("DialBegin", "caller", "callguard-sandbox-1.0"), T0) is None


def test_inbound_end_reasons() -> None:
    def reason(**facts: Any) -> EndReason | None:
        return derive(CallFacts(requested_at=T0, ended_at=T0, **facts)).end_reason

    assert reason(message_at=T0) is EndReason.AGENT_UNAVAILABLE
    assert reason(agent_ringing_at=T0, agent_dial_status="NOANSWER") is EndReason.AGENT_NO_ANSWER
    assert reason(agent_ringing_at=T0, agent_dial_status="CANCEL") is EndReason.CANCELLED
    # the routed agent's phone was gone (its Dial could not create a channel): the caller heard the message
    assert reason(agent_dial_status="CHANUNAVAIL", message_at=T0) is EndReason.AGENT_UNAVAILABLE
    assert reason(agent_dial_status="CHANUNAVAIL") is EndReason.FAILED  # no message: nothing says why
    assert reason(agent_ringing_at=T0, agent_dial_status="NOANSWER", message_at=T0) is EndReason.AGENT_NO_ANSWER
    assert reason(agent_answered_at=T0, answered_at=T0) is EndReason.COMPLETED


class _Ami:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, str]]]] = []

    async def send_action(self, name: str, fields: Any = (), **_: Any) -> None:
        self.sent.append((name, list(fields)))


def _gateway() -> tuple[PbxGateway, _Ami]:
    ami = _Ami()
    settings = PbxSettings(name="local", ami_host="127.0.0.1", ami_port=5038, ami_user="u", ami_secret="s")
    return PbxGateway({"local": ami}, [settings]), ami  # type: ignore[dict-item]


async def test_the_route_is_one_setvar_in_the_shape_the_dial_plan_accepts() -> None:
    pbx, ami = _gateway()
    await pbx.route_inbound("local", "PJSIP/customers-0000000a", f"{CID}:agent:1001:20")
    await pbx.route_inbound("local", "PJSIP/customers-0000000a", f"{CID}:message")
    assert ami.sent == [("Setvar", [("Channel", "PJSIP/customers-0000000a"), ("Variable", "CALLGUARD_ROUTE"),
                                    ("Value", f"{CID}:agent:1001:20")]),
                        ("Setvar", [("Channel", "PJSIP/customers-0000000a"), ("Variable", "CALLGUARD_ROUTE"),
                                    ("Value", f"{CID}:message")])]


@pytest.mark.parametrize(("channel", "route"), [
    ("PJSIP/customers-0000000a", f"{CID}:agent:1001,CALLGUARD_GO=yes:20"),
    ("PJSIP/customers-0000000a", f"{CID}:agent:1001:20\r\nAction: Hangup"),
    ("PJSIP/customers-0000000a", "not-a-uuid:message"),
    ("PJSIP/customers-0000000a", f"{CID}:agent::20"),
    ("PJSIP/customers-0000000a\r\nChannel: PJSIP/1001-00000001", f"{CID}:message"),
])
async def test_nothing_else_reaches_the_pbx(channel: str, route: str) -> None:
    pbx, ami = _gateway()
    with pytest.raises(ValueError, match="not an inbound route"):
        await pbx.route_inbound("local", channel, route)
    assert ami.sent == []


CORE_SHOW_CHANNELS = (  # an inbound call answered by 1001, as Asterisk 22 listed it (tooling account capture)
    b"Response: Success\r\nActionID: t3\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: t3\r\nChannel: PJSIP/customers-00000000\r\nChannelState: 6\r\n"
    b"Uniqueid: callguard-sandbox-1796472077.0\r\nLinkedid: callguard-sandbox-1796472077.0\r\n"
    b"ChanVariable: CALL_ID=" + CID.encode() + b"\r\nChanVariable: CALL_LEG=caller\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: t3\r\nChannel: PJSIP/1001-00000001\r\nChannelState: 6\r\n"
    b"Uniqueid: callguard-sandbox-1796472077.1\r\nLinkedid: callguard-sandbox-1796472077.0\r\n"
    b"ChanVariable: CALL_ID=" + CID.encode() + b"\r\nChanVariable: CALL_LEG=agent\r\n\r\n"
    b"Event: CoreShowChannelsComplete\r\nActionID: t3\r\nEventList: Complete\r\nListItems: 2\r\n\r\n")


class _ListingAmi:
    async def send_list_action(self, name: str, fields: Any = (), **_: Any) -> tuple[Any, list[Any]]:
        response, *events, _complete = AmiParser().feed(CORE_SHOW_CHANNELS)
        return response, events


async def test_a_live_inbound_call_is_live_for_reconciliation_by_its_call_id() -> None:
    settings = PbxSettings(name="local", ami_host="127.0.0.1", ami_port=5038, ami_user="u", ami_secret="s")
    pbx = PbxGateway({"local": _ListingAmi()}, [settings])  # type: ignore[dict-item]
    assert CID in await pbx.live_call_ids("local")  # no channel has it as Uniqueid: the CALL_ID variable says it
