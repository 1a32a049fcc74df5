"""The one place where AMI events become domain facts. Pure: an AMI message in, a fact update out.

Call facts (``translate``) for the call state machine; the legs of a transferred call (``translate_leg``);
phone facts (``translate_device``) for agent presence: Asterisk's ``DeviceStateChange`` events (module
``res_manager_devicestate``) and the answer of its ``DeviceStateList`` action (``device_snapshot``); a
customer calling a presented number (``translate_inbound``: the dial plan's ``UserEvent(CallguardInbound)``,
docs/PBX.md "Inbound calls").

Legs: an outbound call's agent leg has ``Uniqueid`` = call id. An inbound call has no channel with that
Uniqueid; the dial plan marks its legs with the channel variable ``CALL_LEG`` (manager.conf
``channelvars``): ``caller`` (the customer who called in, whose hang-up ends the call; ``message`` once the
dial plan plays it the message: its answer is not the call's) and ``agent``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Asterisk channel states (ChannelState header)
_RINGING = "5"
_UP = "6"

INTERESTING = frozenset(
    {"Newchannel", "Newstate", "DialBegin", "DialEnd", "Hangup", "OriginateResponse", "SoftHangupRequest"}
)
LEG_EVENTS = frozenset({"Newstate", "DialEnd", "Hangup"})
DEVICE_EVENTS = frozenset({"DeviceStateChange"})
_DEVICE = re.compile(r"^PJSIP/(?P<user>[A-Za-z0-9_.+-]{1,64})$")
# Asterisk device states: a PJSIP endpoint is UNAVAILABLE while it has no reachable contact (no registration)
_DEVICE_OFFLINE = frozenset({"UNAVAILABLE", "INVALID"})
_DEVICE_UNKNOWN = frozenset({"UNKNOWN", ""})
INBOUND_EVENTS = frozenset({"UserEvent"})
INBOUND_USER_EVENT = "CallguardInbound"
# what the dial plan sends (already filtered to "+" and digits there); checked again here
_INBOUND_NUMBER = re.compile(r"^\+?[0-9]{0,20}$")
_INBOUND_CHANNEL = re.compile(r"^PJSIP/[A-Za-z0-9_.+-]{1,64}-[0-9a-f]{8}$")
_INBOUND_UNIQUEID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CALLER_LEG, _MESSAGE_LEG, _AGENT_LEG = "caller", "message", "agent"
# Transfers (docs/PBX.md "Transfer"): channel variables exported by manager.conf ``channelvars``.
XFER_VARIABLE = "CALLGUARD_XFER"  # the transfer's id, on the agent's and the customer's channels
LEG_VARIABLE = "CALLGUARD_LEG"  # a transfer leg's id, on the target's (or the agent-back) channel
# SoftHangupRequest "Cause" is Asterisk's soft-hangup flag; 4 = AST_SOFTHANGUP_SHUTDOWN (PBX stopping).
_SOFTHANGUP_SHUTDOWN = 4


class AmiEventLike(Protocol):
    """What translation needs of an AMI message."""

    @property
    def name(self) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def chan_variables(self, prefix: str = "") -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class FactUpdate:
    """Facts one AMI event contributes to one call."""

    call_id: str
    event: str
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LegUpdate:
    """Facts one AMI event tells about one leg of a transferred call.

    ``leg_id`` names a transfer leg (``CALLGUARD_LEG``); None is the call's own agent leg leaving after a
    transfer (``transfer_id`` then names the transfer). Facts: ``channel``, ``ringing_at``, ``answered_at``,
    ``ended_at``, ``cause``, ``dial_status``.
    """

    call_id: str
    leg_id: str | None
    transfer_id: str | None
    event: str
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    """What the PBX says of one phone: its SIP user, whether it is registered (None: unknown), the raw state."""

    sip_user: str
    registered: bool | None
    device_state: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InboundOffer:
    """A customer calling a presented number, waiting in ``callguard-inbound`` for the service's route."""

    channel: str
    uniqueid: str
    caller: str  # "+" and digits, "" when withheld
    dialled: str
    at: datetime


def event_time(msg: AmiEventLike, received_at: datetime) -> datetime:
    """The PBX's own timestamp (manager.conf ``timestampevents = yes``), else the arrival time."""
    ts = msg.get("Timestamp")
    if ts:
        try:
            return datetime.fromtimestamp(float(ts), UTC)
        except ValueError:
            pass
    return received_at


def call_id_of(msg: AmiEventLike) -> str | None:
    """Our call id: the inherited CALL_ID channel variable, else the Linkedid when it is one of ours."""
    cid = msg.chan_variables().get("CALL_ID") or msg.get("Linkedid") or msg.get("Uniqueid")
    if cid and _UUID.match(cid):
        return cid
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def translate(msg: AmiEventLike, received_at: datetime) -> FactUpdate | None:
    """The facts an AMI event tells about one of our calls, or None when it tells nothing."""
    name = msg.name
    if name not in INTERESTING:
        return None
    if name == "OriginateResponse":
        cid = msg.get("Uniqueid") or ""
        if not _UUID.match(cid):
            return None
        at = event_time(msg, received_at)
        if msg.get("Response") == "Success":
            return FactUpdate(cid, name, {"originated_at": at})
        return FactUpdate(cid, name, {"originate_reason": _int(msg.get("Reason")) or 0, "ended_at": at})
    if name in ("DialBegin", "DialEnd"):
        return _dial_facts(msg, name, received_at)

    leg_cid = call_id_of(msg)
    if leg_cid is None or _uuid_var(msg, LEG_VARIABLE):
        return None  # a transfer leg's channel tells about its leg (translate_leg), not the customer
    return _channel_facts(msg, name, leg_cid, event_time(msg, received_at))


def _dial_facts(msg: AmiEventLike, name: str, received_at: datetime) -> FactUpdate | None:
    """Dial events: the customer Dial runs on the agent channel (``Uniqueid`` = call id); the
    Originate's own dial of the agent carries only ``Dest*`` fields (``DestUniqueid`` = call id); an inbound
    call's Dial of the agent runs on the caller's channel (``CALL_LEG=caller``)."""
    at = event_time(msg, received_at)
    if msg.chan_variables().get("CALL_LEG") == _CALLER_LEG:
        cid = call_id_of(msg)
        if cid is None or name != "DialEnd":
            return None
        return FactUpdate(cid, name, {"agent_dial_status": (msg.get("DialStatus") or "").upper() or None})
    uid, dest = msg.get("Uniqueid") or "", msg.get("DestUniqueid") or ""
    if _uuid_var(msg, LEG_VARIABLE, "Dest") is not None:
        return None  # the agent's channel dialling an attended transfer's target: not the customer (translate_leg)
    if _UUID.match(uid):
        if name == "DialBegin":
            return FactUpdate(uid, name, {"customer_ringing_at": at, "customer_channel": msg.get("DestChannel"),
                                          "customer_uniqueid": dest or None})
        status = (msg.get("DialStatus") or "").upper()
        facts: dict[str, Any] = {"dial_status": status or None}
        if status == "ANSWER":
            facts["answered_at"] = at
        return FactUpdate(uid, name, facts)
    if not uid and _UUID.match(dest) and name == "DialEnd":
        status = (msg.get("DialStatus") or "").upper()
        return FactUpdate(dest, name, {"agent_dial_status": status or None})
    return None


def _channel_facts(msg: AmiEventLike, name: str, cid: str, at: datetime) -> FactUpdate | None:
    leg = msg.chan_variables().get("CALL_LEG")
    agent_leg = msg.get("Uniqueid") == cid or leg == _AGENT_LEG
    if name == "SoftHangupRequest":
        flags = _int(msg.get("Cause")) or 0
        if flags & _SOFTHANGUP_SHUTDOWN:
            return FactUpdate(cid, name, {"failure": "pbx-shutdown"})
        return None
    if name == "Hangup":
        cause, text = _int(msg.get("Cause")), msg.get("Cause-txt")
        if leg in (_CALLER_LEG, _MESSAGE_LEG):  # an inbound call ends with its caller
            return FactUpdate(cid, name, {"ended_at": at, "customer_cause": cause, "customer_cause_text": text})
        if leg == _AGENT_LEG:  # an inbound call's agent leg: the caller may go on to the message
            return FactUpdate(cid, name, {"agent_cause": cause, "agent_cause_text": text})
        # after a transfer the customer's channel carries the call: its hang-up ends the call, the agent's not
        transferred = _uuid_var(msg, XFER_VARIABLE) is not None
        if agent_leg:
            ended = {} if transferred else {"ended_at": at}
            return FactUpdate(cid, name, {**ended, "agent_cause": cause, "agent_cause_text": text})
        ended = {"ended_at": at} if transferred else {}
        return FactUpdate(cid, name, {**ended, "customer_cause": cause, "customer_cause_text": text})
    state = msg.get("ChannelState")
    facts: dict[str, Any] = {}
    if leg in (_CALLER_LEG, _MESSAGE_LEG):  # the message answers the caller, but nobody talked to it
        facts = {"customer_channel": msg.get("Channel"), "customer_uniqueid": msg.get("Uniqueid")}
        if leg == _CALLER_LEG and state == _UP:
            facts["answered_at"] = at
        elif leg == _MESSAGE_LEG and state == _UP:  # the agent's Dial failed, or nobody was routed
            facts["message_at"] = at
        return FactUpdate(cid, name, facts)
    if agent_leg:
        facts["agent_channel"] = msg.get("Channel")
        if state == _RINGING:
            facts["agent_ringing_at"] = at
        elif state == _UP:
            facts["agent_answered_at"] = at
    else:
        facts["customer_channel"] = msg.get("Channel")
        facts["customer_uniqueid"] = msg.get("Uniqueid")
        if state == _RINGING:
            facts["customer_ringing_at"] = at
        elif state == _UP:
            facts["answered_at"] = at
    return FactUpdate(cid, name, facts)


def translate_inbound(msg: AmiEventLike, received_at: datetime) -> InboundOffer | None:
    """The offer of the dial plan's ``UserEvent(CallguardInbound,From: <caller>,To: <dialled>)``, or None.

    Every field is checked (channel name, Uniqueid, numbers of ``+`` and digits): nothing the caller sent
    reaches the service's answer unchecked.
    """
    if msg.name not in INBOUND_EVENTS or msg.get("UserEvent") != INBOUND_USER_EVENT:
        return None
    channel, uniqueid = msg.get("Channel") or "", msg.get("Uniqueid") or ""
    caller, dialled = (msg.get("From") or "").strip(), (msg.get("To") or "").strip()
    if not (_INBOUND_CHANNEL.match(channel) and _INBOUND_UNIQUEID.match(uniqueid)
            and _INBOUND_NUMBER.match(caller) and _INBOUND_NUMBER.match(dialled)) or not dialled:
        return None
    return InboundOffer(channel, uniqueid, caller, dialled, event_time(msg, received_at))
def _uuid_var(msg: AmiEventLike, name: str, prefix: str = "") -> str | None:
    value = msg.chan_variables(prefix).get(name)
    return value if value and _UUID.match(value) else None


def translate_leg(msg: AmiEventLike, received_at: datetime) -> LegUpdate | None:
    """The leg facts an AMI event tells about a transferred call, or None.

    A transfer leg's channel (``CALLGUARD_LEG``): ringing, answered, hung up (with its cause); the customer's
    ``DialEnd`` towards it: its dial status. The call's own agent channel hanging up once a transfer is under
    way (``CALLGUARD_XFER``): the first leg ends.
    """
    name = msg.name
    at = event_time(msg, received_at)
    if name == "DialEnd":
        dest_leg = _uuid_var(msg, LEG_VARIABLE, "Dest")
        caller = msg.chan_variables().get("CALL_ID") or ""
        if dest_leg is None or not _UUID.match(caller):
            return None
        status = (msg.get("DialStatus") or "").upper()
        return LegUpdate(caller, dest_leg, None, name, {"dial_status": status or None})
    if name not in ("Newstate", "Hangup"):
        return None
    cid = call_id_of(msg)
    if cid is None:
        return None
    leg = _uuid_var(msg, LEG_VARIABLE)
    if leg is not None:
        if name == "Hangup":
            return LegUpdate(cid, leg, None, name, {"ended_at": at, "cause": _int(msg.get("Cause"))})
        state = msg.get("ChannelState")
        facts: dict[str, Any] = {"channel": msg.get("Channel")}
        if state == _RINGING:
            facts["ringing_at"] = at
        elif state == _UP:
            facts["answered_at"] = at
        return LegUpdate(cid, leg, None, name, facts)
    xfer = _uuid_var(msg, XFER_VARIABLE)
    if name == "Hangup" and xfer is not None and msg.get("Uniqueid") == cid:
        return LegUpdate(cid, None, xfer, name, {"ended_at": at, "cause": _int(msg.get("Cause"))})
    return None


def translate_device(msg: AmiEventLike, received_at: datetime) -> DeviceUpdate | None:
    """The phone fact of a ``DeviceStateChange`` (live, or an item of a ``DeviceStateList``), or None.

    Only ``PJSIP/<user>`` devices are phones; ``UNAVAILABLE``/``INVALID`` mean not registered, ``UNKNOWN``
    tells nothing, every other state (``NOT_INUSE``, ``INUSE``, ``RINGING``, ``BUSY``, ``ONHOLD``...) means
    registered.
    """
    if msg.name not in DEVICE_EVENTS:
        return None
    m = _DEVICE.match(msg.get("Device") or "")
    if m is None:
        return None
    state = (msg.get("State") or "").upper()
    registered = None if state in _DEVICE_UNKNOWN else state not in _DEVICE_OFFLINE
    return DeviceUpdate(m["user"], registered, state, event_time(msg, received_at))


def device_snapshot(items: list[AmiEventLike], received_at: datetime) -> list[DeviceUpdate]:
    """Every phone of a complete ``DeviceStateList`` answer (its items, ``DeviceStateListComplete`` excluded)."""
    updates = [translate_device(m, received_at) for m in items]
    return [u for u in updates if u is not None]


# ---- supervisor monitoring legs (issue #14) ------------------------------------------------------------------
# The service originates a supervisor's leg with ChannelId ``monitor-<session id>``: its Uniqueid (and Linkedid:
# ChanSpy bridges nothing) is never a call id, so ``translate`` above ignores it; ``translate_monitor`` reads it.
MONITOR_LEG_PREFIX = "monitor-"
MONITOR_EVENTS = frozenset({"Newchannel", "Newstate", "Hangup", "OriginateResponse"})
AMI_EVENTS = INTERESTING | LEG_EVENTS | DEVICE_EVENTS | INBOUND_EVENTS | MONITOR_EVENTS
"""Every event the service listens to: the PBX sends only these to its AMI account (manager.conf eventfilter)."""


@dataclass(frozen=True, slots=True)
class MonitorLegUpdate:
    """What one AMI event tells of a monitoring session's leg: its channel, that it answered, that it ended."""

    session_id: str
    event: str
    channel: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    cause: int | None = None


def translate_monitor(msg: AmiEventLike, received_at: datetime) -> MonitorLegUpdate | None:
    """The fact an AMI event tells about a supervisor's monitoring leg, or None when it is no such leg."""
    name = msg.name
    uid = msg.get("Uniqueid") or ""
    if name not in MONITOR_EVENTS or not uid.startswith(MONITOR_LEG_PREFIX):
        return None
    sid = uid[len(MONITOR_LEG_PREFIX):]
    if not _UUID.match(sid):
        return None
    at = event_time(msg, received_at)
    if name == "OriginateResponse":  # Success: answered (Reason 4); else the phone was never reached
        if msg.get("Response") == "Success":
            return MonitorLegUpdate(sid, name, answered_at=at)
        return MonitorLegUpdate(sid, name, ended_at=at)
    if name == "Hangup":
        return MonitorLegUpdate(sid, name, channel=msg.get("Channel"), ended_at=at, cause=_int(msg.get("Cause")))
    return MonitorLegUpdate(sid, name, channel=msg.get("Channel"),
                            answered_at=at if msg.get("ChannelState") == _UP else None)
