"""The SIP thread: one pjsua2 Endpoint hosting the agent phones and the customer line.

Every pjsua2 call happens on this thread (pjsua2 aborts the process when an unregistered thread
touches it). Other threads talk to it only through ``submit()`` (a queue of command dicts); it
reports through the ``emit`` callback (called on the SIP thread, must be thread-safe).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

from sandbox.phones.numberplan import behaviour_for
from sip.config import PJSUA_MAX_CALLS, AgentPhone, PhonesConfig
from sip.protocol import Message, caller_numbers, event, parse_sip_request, uri_user_host_port

log = logging.getLogger(__name__)

CUSTOMER = "customer"
POLL_MS = 10
Emit = Callable[[Message], None]


@dataclass
class CallSlot:
    """Book-keeping for one call on one phone."""

    call: Any
    phone: str
    key: str = ""
    number: str = ""
    direction: str = "in"
    tone_hz: int = 600
    answer_at: float | None = None
    talk_seconds: float | None = None
    hangup_at: float | None = None
    answered: bool = False
    ended: bool = False
    media: list[Any] = field(default_factory=list)  # tone generator / recorder (kept alive)


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    def __init__(self, owner: SipThread) -> None:
        super().__init__()
        self._owner = owner

    def onSelectAccount(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self._owner._select_account(prm)


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, owner: SipThread, phone: str) -> None:
        super().__init__()
        self._owner = owner
        self.phone = phone

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self._owner._on_reg_state(self, prm)

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        self._owner._on_incoming(self, prm)


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, owner: SipThread, account: _Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self._owner = owner
        self.slot: CallSlot | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        self._owner._on_call_state(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        self._owner._on_media_state(self)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        self._owner._on_dtmf(self, prm.digit)


class SipThread(threading.Thread):
    """Runs the pjsua2 Endpoint; ``submit()`` commands, receive events via ``emit``."""

    def __init__(self, config: PhonesConfig, emit: Emit) -> None:
        super().__init__(name="sip-thread", daemon=False)
        self.config = config
        self._emit = emit
        self._commands: queue.Queue[Message] = queue.Queue()
        self._ep: _Endpoint | None = None
        self._accounts: dict[str, _Account] = {}
        self._agents: dict[str, AgentPhone] = {a.sip_user: a for a in config.agents}
        self._calls: list[CallSlot] = []
        self._customer_overrides: dict[str, Any] = {}
        self._running = True
        self._agent_port = 0
        self._customer_port = 0

    # ---- thread API --------------------------------------------------------------------------
    def submit(self, command: Message) -> None:
        """Queue a command for the SIP thread (thread-safe)."""
        self._commands.put(command)

    def stop(self) -> None:
        """Ask the SIP thread to shut down cleanly (thread-safe)."""
        self.submit({"cmd": "quit"})

    def run(self) -> None:
        """Thread body: start pjsua2, poll events and commands, tear down."""
        try:
            self._start()
            self._emit(event("ready", agent_port=self._agent_port, customer_port=self._customer_port))
            while self._running:
                assert self._ep is not None
                self._ep.libHandleEvents(POLL_MS)
                self._drain_commands()
                self._run_timers()
                self._reap()
        except pj.Error as exc:
            self._emit(event("error", fatal=True, message=f"pjsua2: {exc.info()}"))
        finally:
            self._shutdown()
            self._emit(event("stopped"))

    # ---- start / stop ------------------------------------------------------------------------
    def _start(self) -> None:
        cfg = self.config
        ep = _Endpoint(self)
        self._ep = ep
        ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.maxCalls = PJSUA_MAX_CALLS  # the wheel's compiled ceiling; more is clamped to it
        ep_cfg.uaConfig.mainThreadOnly = False
        ep_cfg.uaConfig.userAgent = "callguard-sandbox-phone"
        ep_cfg.logConfig.consoleLevel = 0
        ep_cfg.logConfig.level = cfg.log_level if cfg.log_file else 0
        if cfg.log_file:
            ep_cfg.logConfig.filename = cfg.log_file
        ep_cfg.medConfig.sndAutoCloseTime = -1
        ep_cfg.medConfig.noVad = True
        ep_cfg.medConfig.clockRate = 8000
        ep_cfg.medConfig.sndClockRate = 8000
        ep.libInit(ep_cfg)
        agent_tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, self._transport_config(cfg.agent_port))
        self._agent_port = int(ep.transportGetInfo(agent_tid).localName.rsplit(":", 1)[-1])
        customer_tid = None
        if cfg.customer_line:
            customer_tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, self._transport_config(cfg.customer_port))
            self._customer_port = int(ep.transportGetInfo(customer_tid).localName.rsplit(":", 1)[-1])
        ep.libStart()
        ep.audDevManager().setNullDev()
        for agent in cfg.agents:
            self._accounts[agent.sip_user] = self._create_agent_account(agent, agent_tid)
        if customer_tid is not None:
            self._accounts[CUSTOMER] = self._create_customer_account(customer_tid)

    @staticmethod
    def _transport_config(port: int) -> Any:
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        tcfg.port = port
        return tcfg

    def _account_config(self, id_uri: str, transport_id: int) -> Any:
        acfg = pj.AccountConfig()
        acfg.idUri = id_uri
        acfg.sipConfig.transportId = transport_id
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.iceEnabled = False
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.port = self.config.rtp_port
        acfg.mediaConfig.transportConfig.portRange = self.config.rtp_port_range
        acfg.mediaConfig.transportConfig.randomizePort = True
        return acfg

    def _create_agent_account(self, agent: AgentPhone, transport_id: int) -> _Account:
        cfg = self.config
        acfg = self._account_config(f"sip:{agent.sip_user}@{cfg.pbx_host}", transport_id)
        acfg.regConfig.registrarUri = f"sip:{cfg.pbx_host}:{cfg.pbx_port}"
        acfg.regConfig.registerOnAdd = agent.behaviour != "offline"
        acfg.regConfig.timeoutSec = cfg.registration_expires
        acfg.regConfig.retryIntervalSec = 2
        acfg.regConfig.firstRetryIntervalSec = 1
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", agent.sip_user, 0, agent.password))
        account = _Account(self, agent.sip_user)
        account.create(acfg)
        return account

    def _create_customer_account(self, transport_id: int) -> _Account:
        acfg = self._account_config(f"sip:customers@127.0.0.1:{self._customer_port}", transport_id)
        acfg.regConfig.registerOnAdd = False
        account = _Account(self, CUSTOMER)
        account.create(acfg)
        return account

    def _shutdown(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
            self._pump(0.3)
            for slot in self._calls:
                self._release(slot)
            self._calls.clear()
            for account in self._accounts.values():
                account.shutdown()
            self._pump(0.3)
            self._accounts.clear()
            ep.libDestroy()
        except pj.Error as exc:
            log.warning("pjsua2 shutdown: %s", exc.info())
        self._ep = None

    def _pump(self, seconds: float) -> None:
        assert self._ep is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._ep.libHandleEvents(POLL_MS)

    # ---- callbacks (SIP thread) --------------------------------------------------------------
    def _select_account(self, prm: Any) -> None:
        _method, uri, _headers = parse_sip_request(prm.rdata.wholeMsg)
        user, _host, port = uri_user_host_port(uri)
        # A customer-line shard behind the relay sees the trunk port in the URI: it only has the customer.
        by_port = port in (self.config.customer_port, self._customer_port)
        target = CUSTOMER if CUSTOMER in self._accounts and (by_port or not self._agents) else user
        account = self._accounts.get(target)
        if account is not None:
            prm.accountIndex = account.getId()

    def _on_reg_state(self, account: _Account, prm: Any) -> None:
        if prm.code // 100 == 2 and prm.expiration > 0:
            self._emit(event("registered", user=account.phone, code=prm.code, expires=prm.expiration))
        elif prm.code // 100 == 2:
            self._emit(event("unregistered", user=account.phone, code=prm.code))
        else:
            self._emit(event("registration_failed", user=account.phone, code=prm.code, reason=prm.reason))

    def _on_incoming(self, account: _Account, prm: Any) -> None:
        call = _Call(self, account, prm.callId)
        _method, uri, headers = parse_sip_request(prm.rdata.wholeMsg)
        number, _host, _port = uri_user_host_port(uri)
        slot = CallSlot(call=call, phone=account.phone, number=number, key=call.getInfo().callIdString)
        call.slot = slot
        self._calls.append(slot)
        x_headers = {k: v for k, v in headers.items() if k.startswith("x-")}
        self._emit(event("incoming", phone=slot.phone, call=slot.key, number=number,
                         remote=headers.get("from", ""), headers=x_headers, **caller_numbers(headers)))
        if account.phone == CUSTOMER:
            self._handle_customer_call(slot)
        else:
            self._handle_agent_call(slot, self._agents[account.phone])

    def _handle_agent_call(self, slot: CallSlot, agent: AgentPhone) -> None:
        slot.tone_hz = agent.tone_hz
        if agent.behaviour == "reject":
            self._answer(slot, agent.reject_code)
        elif agent.behaviour == "offline":
            self._answer(slot, 480)
        else:
            self._answer(slot, 180)
            if agent.behaviour == "answer":
                slot.answer_at = time.monotonic() + agent.answer_delay

    def _handle_customer_call(self, slot: CallSlot) -> None:
        cfg = self.config
        over = self._customer_overrides
        plan = behaviour_for(
            slot.number,
            talk_seconds=over.get("talk_seconds", cfg.customer_talk_seconds),
            tone_hz=int(over.get("tone_hz", cfg.customer_tone_hz)),
        )
        slot.tone_hz = plan.tone_hz
        slot.talk_seconds = plan.talk_seconds
        if plan.action == "reject":
            self._answer(slot, plan.reject_code)
            return
        self._answer(slot, 180)
        if plan.action == "answer":
            delay = over.get("answer_delay", cfg.customer_answer_delay)
            slot.answer_at = time.monotonic() + (plan.answer_delay if delay is None else float(delay))

    def _answer(self, slot: CallSlot, code: int) -> None:
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        try:
            slot.call.answer(prm)
        except pj.Error as exc:
            self._emit(event("error", phone=slot.phone, call=slot.key, message=exc.info()))

    def _on_call_state(self, call: _Call) -> None:
        slot = call.slot
        if slot is None:
            return
        info = call.getInfo()
        slot.key = slot.key or info.callIdString
        if info.state == pj.PJSIP_INV_STATE_EARLY and slot.direction == "out":
            self._emit(event("ringing", phone=slot.phone, call=slot.key, code=info.lastStatusCode))
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED and not slot.answered:
            slot.answered = True
            slot.answer_at = None
            if slot.talk_seconds is not None:
                slot.hangup_at = time.monotonic() + slot.talk_seconds
            self._emit(event("answered", phone=slot.phone, call=slot.key, number=slot.number,
                             direction=slot.direction))
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not slot.ended:
            slot.ended = True
            self._emit(event("ended", phone=slot.phone, call=slot.key, number=slot.number,
                             direction=slot.direction, answered=slot.answered,
                             code=info.lastStatusCode, reason=info.lastReason))

    def _on_media_state(self, call: _Call) -> None:
        slot = call.slot
        if slot is None or slot.media:
            return
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self._attach_audio(slot, call.getAudioMedia(index))
                return

    def _on_dtmf(self, call: _Call, digit: str) -> None:
        slot = call.slot
        if slot is not None:
            self._emit(event("dtmf", phone=slot.phone, call=slot.key, direction="in", digits=digit))

    @staticmethod
    def _play(tone: Any, hz: int) -> None:
        """(Re)start ``tone`` as a continuous ``hz`` sine; 0 = silence."""
        tone.stop()
        if hz <= 0:
            return
        desc = pj.ToneDesc()
        desc.freq1 = hz
        desc.freq2 = 0
        desc.on_msec = 1000
        desc.off_msec = 0
        desc.volume = 0
        tones = pj.ToneDescVector()
        tones.append(desc)
        tone.play(tones, True)

    def _attach_audio(self, slot: CallSlot, audio: Any) -> None:
        tone = pj.ToneGenerator()
        tone.createToneGenerator(8000, 1)
        self._play(tone, slot.tone_hz)
        tone.startTransmit(audio)
        slot.media.append(tone)
        record_dir = self._record_dir(slot.phone)
        if record_dir:
            recorder = pj.AudioMediaRecorder()
            safe_key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in slot.key)
            recorder.createRecorder(str(Path(record_dir) / f"{slot.phone}-{safe_key}.wav"))
            audio.startTransmit(recorder)
            slot.media.append(recorder)

    def _record_dir(self, phone: str) -> str | None:
        if phone == CUSTOMER:
            return self.config.customer_record_dir
        agent = self._agents.get(phone)
        return agent.record_dir if agent else None

    # ---- loop helpers ------------------------------------------------------------------------
    def _run_timers(self) -> None:
        now = time.monotonic()
        for slot in list(self._calls):
            if slot.ended:
                continue
            if slot.answer_at is not None and now >= slot.answer_at:
                slot.answer_at = None
                self._answer(slot, 200)
            if slot.hangup_at is not None and now >= slot.hangup_at:
                slot.hangup_at = None
                self._hangup(slot)

    def _reap(self) -> None:
        for slot in [s for s in self._calls if s.ended]:
            self._release(slot)
            self._calls.remove(slot)

    @staticmethod
    def _release(slot: CallSlot) -> None:
        # Destroying a ToneGenerator/AudioMediaRecorder removes its port from the conference bridge.
        slot.media.clear()
        if slot.call is not None:
            slot.call.slot = None
        slot.call = None

    def _hangup(self, slot: CallSlot, code: int = 0) -> None:
        if slot.call is None or slot.ended:
            return
        prm = pj.CallOpParam(True)
        if code:
            prm.statusCode = code
        try:
            slot.call.hangup(prm)
        except pj.Error as exc:
            self._emit(event("error", phone=slot.phone, call=slot.key, message=exc.info()))

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._execute(command)
            except (pj.Error, ValueError, KeyError, TypeError) as exc:
                message = exc.info() if isinstance(exc, pj.Error) else str(exc)
                self._emit(event("error", cmd=command.get("cmd"), message=message))

    def _execute(self, command: Message) -> None:
        cmd = command["cmd"]
        if cmd == "quit":
            self._running = False
        elif cmd == "hangup":
            for slot in self._calls:
                if slot.phone == command["phone"] and command.get("call") in (None, slot.key):
                    self._hangup(slot, int(command.get("code", 0)))
        elif cmd == "set_behaviour":
            self._set_behaviour(command)
        elif cmd == "call":
            self._make_call(command)
        elif cmd in ("dtmf", "tone"):
            for slot in self._calls:
                if slot.phone == command["phone"] and command.get("call") in (None, slot.key) and slot.answered \
                        and not slot.ended and slot.call is not None:
                    self._in_call(slot, command)

    def _in_call(self, slot: CallSlot, command: Message) -> None:
        """Send DTMF (RFC 4733) or change the tone on one established call."""
        if command["cmd"] == "dtmf":
            slot.call.dialDtmf(command["digits"])
            self._emit(event("dtmf", phone=slot.phone, call=slot.key, direction="out", digits=command["digits"]))
            return
        slot.tone_hz = int(command["hz"])
        if slot.media:
            self._play(slot.media[0], slot.tone_hz)

    def _set_behaviour(self, command: Message) -> None:
        phone = command["phone"]
        fields = {k: v for k, v in command.items() if k not in ("cmd", "phone")}
        if phone == CUSTOMER:
            self._customer_overrides.update(fields)
            return
        agent = self._agents[phone]
        was_offline = agent.behaviour == "offline"
        agent.update(fields)
        if was_offline != (agent.behaviour == "offline"):
            self._accounts[phone].setRegistration(was_offline)

    def _make_call(self, command: Message) -> None:
        account = self._accounts[command["phone"]]
        call = _Call(self, account)
        slot = CallSlot(call=call, phone=account.phone, direction="out",
                        number=uri_user_host_port(command["uri"])[0],
                        tone_hz=int(command.get("tone_hz", 600)))
        if command.get("hangup_after") is not None:
            slot.talk_seconds = float(command["hangup_after"])
        call.slot = slot
        prm = pj.CallOpParam(True)
        if command.get("caller"):  # the From number (checked by protocol.decode_command: "+" and digits)
            prm.txOption.localUri = f"sip:{command['caller']}@{self.config.pbx_host}"
        for name, value in command.get("headers", {}).items():
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            prm.txOption.headers.append(header)
        self._calls.append(slot)
        call.makeCall(command["uri"], prm)
        slot.key = call.getInfo().callIdString
        self._emit(event("calling", phone=slot.phone, call=slot.key, uri=command["uri"],
                         request=command.get("request")))
