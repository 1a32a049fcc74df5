"""The dialer's view of the PBXs: originate, hang up, release the customer leg, list live calls.

AMI library errors are translated here, and only here, into dialer errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime

from config.settings import PbxSettings
from dialer.ami import AmiActionError, AmiClient, AmiConnectionLost, AmiError, AmiNotConnected
from dialer.errors import InvalidMonitorTarget, InvalidPresentedNumber, OriginateFateUnknown, PbxUnavailable
from dialer.translate import XFER_VARIABLE, DeviceUpdate, device_snapshot

log = logging.getLogger(__name__)

GO_VARIABLE = "CALLGUARD_GO"
PRESENTED_VARIABLE = "OUTBOUND_CLI"
PBX_CLI = re.compile(r"\+?[0-9]{1,20}")  # all that may reach the PBX as a presented number
# supervisor monitoring (issue #14): what may reach an AMI action of a monitoring leg
MONITOR_CONTEXT = "callguard-monitor"
MONITOR_MODES = frozenset({"listen", "whisper", "barge"})  # the extensions of callguard-monitor
AGENT_CHANNEL = re.compile(r"[A-Za-z]{2,10}/[A-Za-z0-9_.+@-]{1,80}-[0-9a-f]{8}")  # PJSIP/1001-0000002a
SIP_USER = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MONITOR_LEG_PREFIX = "monitor-"  # a monitoring leg's Uniqueid: monitor-<session id>
ROUTE_VARIABLE = "CALLGUARD_ROUTE"
# what the inbound dial plan accepts (its ROUTE_RE): <call id>:message or <call id>:agent:<sip user>:<ring seconds>
INBOUND_ROUTE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:"
                           r"(message|agent:[A-Za-z0-9_.-]{1,64}:[0-9]{1,3})")
INBOUND_CHANNEL = re.compile(r"PJSIP/[A-Za-z0-9_.+-]{1,64}-[0-9a-f]{8}")
TRANSFER_CONTEXT = "callguard-transfer"
TRANSFER_OUT_CONTEXT = "callguard-transfer-out"  # a blind transfer to an outside number (Exten = the number)
CONSULT_OUT_CONTEXT = "callguard-xfer-consult-out"  # an attended one's consultation (Exten = the number)
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # the only outside number a transfer sends to the dial plan
HOLD_CONTEXT = "callguard-xfer-hold"
CONSULT_CONTEXT = "callguard-xfer-consult"
PBX_CHANNEL = re.compile(r"[A-Za-z0-9/_.-]{1,128}")  # a channel name as Asterisk makes them
PBX_SIP_USER = re.compile(r"[0-9A-Za-z]{1,32}")  # a transfer target the dial plan accepts (callguard-transfer)
_PBX_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class PbxGateway:
    """Dial-plan level actions on the configured PBXs, by PBX name."""

    def __init__(self, clients: Mapping[str, AmiClient], settings: list[PbxSettings]) -> None:
        self.clients = dict(clients)
        self.settings = {p.name: p for p in settings}
        self.default = settings[0].name

    def event_backlog(self) -> int:
        """PBX events this instance has read and not yet applied, over all its PBXs (one event loop applies
        them all)."""
        return sum(c.event_backlog for c in self.clients.values())

    def client(self, pbx: str) -> AmiClient:
        """The AMI client of ``pbx``."""
        try:
            return self.clients[pbx]
        except KeyError:
            raise PbxUnavailable(pbx, f"no PBX named {pbx!r} is configured") from None

    async def originate(self, pbx: str, *, call_id: str, sip_user: str, number: str,
                        presented: str | None = None) -> None:
        """Ring the agent's phone; when answered, the dial plan dials ``number``, presenting ``presented``
        (``OUTBOUND_CLI``; None: the PBX default). Only ``+`` and digits are sent (InvalidPresentedNumber).

        Raises PbxUnavailable when the Originate certainly did not happen, OriginateFateUnknown when
        the connection dropped after it was written (the call's fate then comes from PBX events).
        """
        cfg = self.settings[pbx]
        if presented is not None and not PBX_CLI.fullmatch(presented):
            raise InvalidPresentedNumber("a presented number is '+' and digits", details={"number": presented[:40]})
        fields = [
            ("Channel", cfg.channel_template.format(sip_user=sip_user)),
            ("Context", cfg.context),
            ("Exten", number),
            ("Priority", "1"),
            ("Async", "true"),
            ("Timeout", str(cfg.agent_ring_timeout_s * 1000)),
            ("ChannelId", call_id),
            ("CallerID", f'"Callguard" <{number}>'),
            ("Variable", f"__CALL_ID={call_id}"),
        ]
        if presented is not None:
            fields.append(("Variable", f"{PRESENTED_VARIABLE}={presented}"))
        try:
            await self.client(pbx).send_action("Originate", fields)
        except AmiConnectionLost as exc:
            raise OriginateFateUnknown(str(exc)) from exc
        except AmiNotConnected as exc:
            raise PbxUnavailable(pbx, "the PBX is not connected") from exc
        except AmiActionError as exc:
            raise PbxUnavailable(pbx, f"the PBX refused the call: {exc}") from exc
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"the PBX did not answer: {type(exc).__name__}") from exc

    async def hangup(self, pbx: str, channel: str) -> None:
        """Hang up one channel (the agent's leg ends the whole call)."""
        await self._simple(pbx, "Hangup", [("Channel", channel), ("Cause", "16")])

    async def blind_transfer(self, pbx: str, *, agent_channel: str, customer_channel: str, target: str,
                             transfer_id: str, seq: int, target_leg: str, back: str, back_leg: str) -> None:
        """Send the customer to ``target`` (a SIP user) and the agent's phone away (docs/PBX.md "Transfer").

        The channel variables go first (AMI ``Setvar``), then ``BlindTransfer`` of the agent's channel into
        ``callguard-transfer``; the target (and the agent, rung back if the target does not answer) ring as long
        as an agent may ring for a call (``agent_ring_timeout_s``). Only UUIDs, digits and ``[0-9A-Za-z]`` SIP
        users are sent (ValueError otherwise, nothing sent). If the PBX refuses, the variables are cleared again
        (so the agent's hang-up ends the call as before) and PbxUnavailable is raised.
        """
        for user in (target, back):
            if not PBX_SIP_USER.fullmatch(user):
                raise ValueError(f"not a SIP user the dial plan accepts: {user[:40]!r}")
        for ident in (transfer_id, target_leg, back_leg):
            if not _PBX_ID.fullmatch(ident):
                raise ValueError("transfer and leg ids are lower-case UUIDs")
        ring = str(self.settings[pbx].agent_ring_timeout_s)
        customer_vars = [(XFER_VARIABLE, transfer_id), ("XFER_LEG", target_leg), ("XFER_SEG", str(int(seq))),
                         ("XFER_BACK", back), ("XFER_BACK_LEG", back_leg), ("XFER_TIMEOUT", ring)]
        try:
            await self._setvar(pbx, agent_channel, XFER_VARIABLE, transfer_id)
            for name, value in customer_vars:
                await self._setvar(pbx, customer_channel, name, value)
            await self._simple(pbx, "BlindTransfer", [("Channel", agent_channel), ("Context", TRANSFER_CONTEXT),
                                                      ("Exten", target)])
        except PbxUnavailable:
            await self._clear_transfer(pbx, agent_channel, customer_channel)
            raise

    async def attended_transfer(self, pbx: str, *, agent_channel: str, customer_channel: str, target: str,
                                transfer_id: str, seq: int, target_leg: str) -> None:
        """Put the customer on hold and ring ``target`` from the agent's channel (docs/PBX.md "Transfer").

        Setvars, then one AMI ``Redirect`` of both channels: the customer to ``callguard-xfer-hold``, the
        agent to ``callguard-xfer-consult`` (Exten = the target). Checked and undone like ``blind_transfer``.
        """
        if not PBX_SIP_USER.fullmatch(target):
            raise ValueError(f"not a SIP user the dial plan accepts: {target[:40]!r}")
        if not (_PBX_ID.fullmatch(transfer_id) and _PBX_ID.fullmatch(target_leg)):
            raise ValueError("transfer and leg ids are lower-case UUIDs")
        if not (PBX_CHANNEL.fullmatch(agent_channel) and PBX_CHANNEL.fullmatch(customer_channel)):
            raise ValueError("not a channel name")
        ring = str(self.settings[pbx].agent_ring_timeout_s)
        agent_vars = [(XFER_VARIABLE, transfer_id), ("XFER_LEG", target_leg), ("XFER_TIMEOUT", ring),
                      ("XFER_PEER", customer_channel), ("XFER_DONE", "")]
        await self._consult(pbx, agent_channel=agent_channel, customer_channel=customer_channel,
                            agent_vars=agent_vars, transfer_id=transfer_id, seq=seq, context=CONSULT_CONTEXT,
                            exten=target)

    async def blind_transfer_out(self, pbx: str, *, agent_channel: str, customer_channel: str, number: str,
                                 presented: str | None, transfer_id: str, seq: int, target_leg: str, back: str,
                                 back_leg: str) -> None:
        """Send the customer to an outside ``number`` through the customer trunk (docs/PBX.md "Transfer to a
        number"): as ``blind_transfer``, into ``callguard-transfer-out`` with Exten = the number, after a
        ``Setvar`` of ``OUTBOUND_CLI`` (the number the outside party sees) on the customer's channel. Only an
        E.164 number (``+`` and 7 to 15 digits), a ``+``-and-digits presented number, UUIDs and SIP users are
        sent (ValueError otherwise, nothing sent)."""
        self._check_out(number, presented)
        if not (PBX_CHANNEL.fullmatch(agent_channel) and PBX_CHANNEL.fullmatch(customer_channel)):
            raise ValueError("not a channel name")
        if not PBX_SIP_USER.fullmatch(back):
            raise ValueError(f"not a SIP user the dial plan accepts: {back[:40]!r}")
        for ident in (transfer_id, target_leg, back_leg):
            if not _PBX_ID.fullmatch(ident):
                raise ValueError("transfer and leg ids are lower-case UUIDs")
        ring = str(self.settings[pbx].agent_ring_timeout_s)  # the agent rung back; the number rings as a customer
        customer_vars = [(XFER_VARIABLE, transfer_id), ("XFER_LEG", target_leg), ("XFER_SEG", str(int(seq))),
                         ("XFER_BACK", back), ("XFER_BACK_LEG", back_leg), ("XFER_TIMEOUT", ring),
                         (PRESENTED_VARIABLE, presented or "")]
        try:
            await self._setvar(pbx, agent_channel, XFER_VARIABLE, transfer_id)
            for name, value in customer_vars:
                await self._setvar(pbx, customer_channel, name, value)
            await self._simple(pbx, "BlindTransfer", [("Channel", agent_channel), ("Context", TRANSFER_OUT_CONTEXT),
                                                      ("Exten", number)])
        except PbxUnavailable:
            await self._clear_transfer(pbx, agent_channel, customer_channel)
            raise

    async def attended_transfer_out(self, pbx: str, *, agent_channel: str, customer_channel: str, number: str,
                                    presented: str | None, transfer_id: str, seq: int, target_leg: str) -> None:
        """As ``attended_transfer``, the agent consulting an outside ``number`` from
        ``callguard-xfer-consult-out`` (through the customer trunk, presenting ``presented``)."""
        self._check_out(number, presented)
        if not (_PBX_ID.fullmatch(transfer_id) and _PBX_ID.fullmatch(target_leg)):
            raise ValueError("transfer and leg ids are lower-case UUIDs")
        if not (PBX_CHANNEL.fullmatch(agent_channel) and PBX_CHANNEL.fullmatch(customer_channel)):
            raise ValueError("not a channel name")
        agent_vars = [(XFER_VARIABLE, transfer_id), ("XFER_LEG", target_leg), ("XFER_PEER", customer_channel),
                      ("XFER_DONE", ""), (PRESENTED_VARIABLE, presented or "")]
        await self._consult(pbx, agent_channel=agent_channel, customer_channel=customer_channel,
                            agent_vars=agent_vars, transfer_id=transfer_id, seq=seq, context=CONSULT_OUT_CONTEXT,
                            exten=number)

    async def _consult(self, pbx: str, *, agent_channel: str, customer_channel: str,
                       agent_vars: list[tuple[str, str]], transfer_id: str, seq: int, context: str,
                       exten: str) -> None:
        """An attended transfer's start (checked values only): ``agent_vars`` on the agent's channel, the
        transfer and segment on the customer's, then one Redirect: the customer to the hold melody, the agent
        to ``context``/``exten``. Cleared again if the PBX cannot be reached."""
        try:
            for name, value in agent_vars:
                await self._setvar(pbx, agent_channel, name, value)
            for name, value in ((XFER_VARIABLE, transfer_id), ("XFER_SEG", str(int(seq)))):
                await self._setvar(pbx, customer_channel, name, value)
            await self._simple(pbx, "Redirect", [
                ("Channel", customer_channel), ("Context", HOLD_CONTEXT), ("Exten", "s"), ("Priority", "1"),
                ("ExtraChannel", agent_channel), ("ExtraContext", context), ("ExtraExten", exten),
                ("ExtraPriority", "1")])
        except PbxUnavailable:
            await self._clear_transfer(pbx, agent_channel, customer_channel)
            raise

    @staticmethod
    def _check_out(number: str, presented: str | None) -> None:
        if not E164.fullmatch(number):
            raise ValueError(f"not an E.164 number: {number[:40]!r}")
        if presented is not None and not PBX_CLI.fullmatch(presented):
            raise InvalidPresentedNumber("a presented number is '+' and digits", details={"number": presented[:40]})

    async def complete_transfer(self, pbx: str, *, agent_channel: str, customer_channel: str,
                                target_channel: str) -> None:
        """An attended transfer's completion: the agent's consult leg ends (``XFER_DONE``), AMI ``Bridge`` joins
        the customer and the target."""
        for channel in (agent_channel, customer_channel, target_channel):
            if not PBX_CHANNEL.fullmatch(channel):
                raise ValueError("not a channel name")
        await self._setvar(pbx, agent_channel, "XFER_DONE", "yes")
        try:
            await self._simple(pbx, "Bridge", [("Channel1", customer_channel), ("Channel2", target_channel),
                                               ("Tone", "no")])
        except PbxUnavailable:
            try:
                await self._setvar(pbx, agent_channel, "XFER_DONE", "")
            except PbxUnavailable as exc:
                log.info("clearing XFER_DONE on %s failed: %s", agent_channel, exc)
            raise

    async def _clear_transfer(self, pbx: str, *channels: str) -> None:
        for channel in channels:
            try:
                await self._setvar(pbx, channel, XFER_VARIABLE, "")
            except PbxUnavailable as exc:  # the channel may be gone: nothing left to undo there
                log.info("clearing %s on %s failed: %s", XFER_VARIABLE, channel, exc)

    async def _setvar(self, pbx: str, channel: str, name: str, value: str) -> None:
        await self._simple(pbx, "Setvar", [("Channel", channel), ("Variable", name), ("Value", value)])

    async def release_customer_leg(self, pbx: str, channel: str) -> None:
        """Tell the dial plan waiting on the agent's channel that it may dial the customer."""
        await self._simple(pbx, "Setvar", [("Channel", channel), ("Variable", GO_VARIABLE), ("Value", "yes")])

    async def route_inbound(self, pbx: str, channel: str, route: str) -> None:
        """Answer a caller waiting in ``callguard-inbound``: ``route`` is ``<call id>:message`` or
        ``<call id>:agent:<sip user>:<ring seconds>`` (one Setvar, so the dial plan never sees half a route).
        Anything else is refused here (ValueError), before it reaches the PBX."""
        if not INBOUND_CHANNEL.fullmatch(channel) or not INBOUND_ROUTE.fullmatch(route):
            raise ValueError(f"not an inbound route: {channel[:80]!r} {route[:120]!r}")
        await self._simple(pbx, "Setvar", [("Channel", channel), ("Variable", ROUTE_VARIABLE), ("Value", route)])

    async def db_tree(self, pbx: str, family: str) -> dict[str, str]:
        """Every key of an astdb ``family`` (AMI ``DBGetTree``, class ``reporting``) -> value; empty when none."""
        try:
            _resp, events = await self.client(pbx).send_list_action("DBGetTree", [("Family", family)])
        except AmiActionError as exc:
            if "not found" in str(exc).lower():
                return {}
            raise PbxUnavailable(pbx, f"DBGetTree refused: {exc}") from exc
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"cannot read the PBX database: {type(exc).__name__}") from exc
        return {ev.get("Key") or "": ev.get("Val") or "" for ev in events if ev.name == "DBGetTreeResponse"}

    async def mute_recording(self, pbx: str, channel: str, pause: bool) -> None:
        """Pause (or resume) the channel's MixMonitor in both directions; errors become ``PbxUnavailable``."""
        try:
            await self.client(pbx).send_action(
                "MixMonitorMute", [("Channel", channel), ("Direction", "both"), ("State", "1" if pause else "0")])
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"MixMonitorMute failed: {exc}") from exc

    # -- supervisor monitoring (issue #14): the supervisor's leg ----------------------------------------
    async def originate_monitor(self, pbx: str, *, session_id: str, sip_user: str, mode: str, call_id: str,
                                agent_channel: str) -> None:
        """Ring the supervisor's phone; on answer ``callguard-monitor,<mode>`` spies on ``agent_channel`` (the
        agent leg of ``call_id``, from the service's own call record). Every value is checked against its strict
        form first (``InvalidMonitorTarget``, nothing sent): an Originate ``Variable`` is split on commas, so no
        value may carry one. The leg's Uniqueid is ``monitor-<session id>``. Raises PbxUnavailable when the
        Originate certainly did not happen, OriginateFateUnknown when the connection dropped after it was written.
        """
        _check_monitor(mode=mode, session_id=session_id, call_id=call_id)
        if not SIP_USER.fullmatch(sip_user) or not AGENT_CHANNEL.fullmatch(agent_channel):
            raise InvalidMonitorTarget("the supervisor's phone or the agent channel is not of its form",
                                       details={"call_id": call_id})
        cfg = self.settings[pbx]
        fields = [
            ("Channel", cfg.channel_template.format(sip_user=sip_user)),
            ("Context", MONITOR_CONTEXT),
            ("Exten", mode),
            ("Priority", "1"),
            ("Async", "true"),
            ("Timeout", str(cfg.agent_ring_timeout_s * 1000)),
            ("ChannelId", MONITOR_LEG_PREFIX + session_id),
            ("CallerID", '"Callguard monitor" <monitor>'),
            ("Variable", f"MONITOR_TARGET={agent_channel}"),
            ("Variable", f"MONITOR_CALL_ID={call_id}"),
        ]
        try:
            await self.client(pbx).send_action("Originate", fields)
        except AmiConnectionLost as exc:  # it may have run: the leg's events (or the reconcile) tell
            raise OriginateFateUnknown(str(exc)) from exc
        except AmiNotConnected as exc:
            raise PbxUnavailable(pbx, "the PBX is not connected") from exc
        except AmiActionError as exc:
            raise PbxUnavailable(pbx, f"the PBX refused the monitoring call: {exc}") from exc
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"the PBX did not answer: {type(exc).__name__}") from exc

    async def change_monitor_mode(self, pbx: str, *, session_id: str, mode: str) -> None:
        """Move the supervisor's leg (by its Uniqueid) to ``callguard-monitor,<mode>,1`` (AMI Redirect): ChanSpy
        ends and starts again in the new mode; the phone stays connected."""
        _check_monitor(mode=mode, session_id=session_id)
        await self._simple(pbx, "Redirect", [("Channel", MONITOR_LEG_PREFIX + session_id),
                                             ("Context", MONITOR_CONTEXT), ("Exten", mode), ("Priority", "1")])

    async def end_monitor(self, pbx: str, *, session_id: str) -> None:
        """Hang up the supervisor's leg (by its Uniqueid); the call goes on."""
        _check_monitor(session_id=session_id)
        await self._simple(pbx, "Hangup", [("Channel", MONITOR_LEG_PREFIX + session_id), ("Cause", "16")])

    async def live_call_ids(self, pbx: str) -> set[str]:
        """Call ids (Linkedids) of every channel alive on ``pbx``."""
        try:
            _resp, events = await self.client(pbx).send_list_action("CoreShowChannels", [])
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"cannot list channels: {type(exc).__name__}") from exc
        ids = set()
        for ev in events:
            if ev.name == "CoreShowChannel":
                for key in ("Linkedid", "Uniqueid"):
                    value = ev.get(key)
                    if value:
                        ids.add(value)
                call_id = ev.chan_variables().get("CALL_ID")  # an inbound call: no channel has its id as Uniqueid
                if call_id:
                    ids.add(call_id)
        return ids

    async def device_states(self, pbx: str, received_at: datetime) -> list[DeviceUpdate]:
        """Every phone's registration on ``pbx`` (AMI ``DeviceStateList``, module ``res_manager_devicestate``)."""
        try:
            _resp, events = await self.client(pbx).send_list_action("DeviceStateList", [])
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"cannot list device states: {type(exc).__name__}") from exc
        return device_snapshot(list(events), received_at)

    async def _simple(self, pbx: str, action: str, fields: list[tuple[str, str]]) -> None:
        try:
            await self.client(pbx).send_action(action, fields)
        except AmiActionError as exc:
            log.info("%s on %s refused: %s", action, pbx, exc)
            raise PbxUnavailable(pbx, f"the PBX refused {action}: {exc}") from exc
        except (AmiError, TimeoutError) as exc:
            raise PbxUnavailable(pbx, f"the PBX is not reachable: {type(exc).__name__}") from exc

    def state(self) -> dict[str, object]:
        """AMI connection state per PBX, for /readyz."""
        return {name: c.state() for name, c in self.clients.items()}


def _check_monitor(*, session_id: str, mode: str | None = None, call_id: str | None = None) -> None:
    """Refuse (``InvalidMonitorTarget``) a mode, session id or call id that is not of its fixed form."""
    if mode is not None and mode not in MONITOR_MODES:
        raise InvalidMonitorTarget("unknown monitoring mode", details={"mode": mode[:20]})
    if not _UUID.fullmatch(session_id) or (call_id is not None and not _UUID.fullmatch(call_id)):
        raise InvalidMonitorTarget("a session or call id is not a UUID", details={})
