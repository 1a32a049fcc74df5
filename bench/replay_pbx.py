"""A replay PBX: a fake AMI server that plays, per originated call, the events Asterisk 22 really sent.

The template is tests/fixtures/ami/answered_call.trace (a full answered click-to-dial as the service's AMI
account saw it), cut to the events the service's account receives (``dialer.translate.AMI_EVENTS``, as the
manager.conf eventfilter does). Per ``Originate`` (``ChannelId`` = the call id) the trace's call id, channel
names, customer leg Uniqueid, bridge id and number are replaced by fresh values, each ``Timestamp`` by the
wall clock at sending. The trace's long gaps are scaled: before the bridge (the agent's and the customer's
ring) to ``ring_s``, after it (the talk) to ``talk_s``; short gaps are not waited. The customer part (from
the customer leg's Newchannel on) is played only after the service's ``Setvar CALLGUARD_GO=yes`` on the
agent's channel, as the real dial plan (callguard-await-go) waits for it.

Answers Login, Ping, Setvar, Hangup, MixMonitorMute and any other simple action with Success; the list
actions CoreShowChannels, DeviceStateList and DBGetTree with an empty list.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dialer.ami.parser import AmiMessage, AmiParser
from dialer.translate import AMI_EVENTS

TRACE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami" / "answered_call.trace"
CALL_ID = "f902d664-5e4d-480c-b053-101ded671ff5"
AGENT_CHANNEL = "PJSIP/1001-00000000"
CUSTOMER_CHANNEL = "PJSIP/customers-00000001"
CUSTOMER_UID = "callguard-sandbox-1795971495.1"
NUMBER = "+8613800000001"
LONG_GAP_S = 0.3
GO_TIMEOUT_S = 60.0  # the real dial plan gives up after GO_TIMEOUT_TENTHS; the replay waits longer
LIST_ACTIONS = {"CoreShowChannels": "CoreShowChannelsComplete", "DeviceStateList": "DeviceStateListComplete",
                "DBGetTree": "DBGetTreeComplete"}
_TIMESTAMP = re.compile(r"Timestamp: [0-9.]+")
_BRIDGE = re.compile(r"BridgeUniqueid: ([0-9a-f-]{36})")


@dataclass(frozen=True)
class Step:
    """One event of the template: its text, the wait before it, whether the go-ahead gates it."""

    text: str
    wait: str  # "", "ring" or "talk"
    gated: bool


def template(trace: Path = TRACE) -> list[Step]:
    """The trace's events the service's account receives, in order, with their kind of wait."""
    blocks = [b for b in trace.read_bytes().decode().split("\r\n\r\n") if b.strip()]
    steps: list[Step] = []
    prev_ts: float | None = None
    gated = bridged = False
    for block in blocks:
        msg = AmiMessage.from_lines(block.split("\r\n"))
        if msg.name not in AMI_EVENTS:
            continue
        if msg.name == "Newchannel" and msg.get("Channel") == CUSTOMER_CHANNEL:
            gated = True
        ts_s = msg.get("Timestamp")
        ts = float(ts_s) if ts_s else prev_ts
        wait = ""
        if ts is not None and prev_ts is not None and ts - prev_ts >= LONG_GAP_S:
            wait = "talk" if bridged else "ring"
        if msg.name == "DialEnd" and gated:
            bridged = True
        prev_ts = ts
        steps.append(Step(block + "\r\n\r\n", wait, gated))
    return steps


@dataclass
class ReplayStats:
    """What the replay did: calls originated, played to the end, refused a go-ahead; actions by name."""

    originated: int = 0
    completed: int = 0
    no_go: int = 0
    go_unknown: list[str] = field(default_factory=list)
    go_waits: list[float] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)


class ReplayPbx:
    """The AMI server; ``async with ReplayPbx(ring_s=0.1, talk_s=1.0) as pbx: pbx.port``."""

    def __init__(self, *, ring_s: float = 0.1, talk_s: float = 1.0, host: str = "127.0.0.1") -> None:
        self.ring_s, self.talk_s, self.host = ring_s, talk_s, host
        self.steps = template()
        self.stats = ReplayStats()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._go: dict[str, asyncio.Event] = {}
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ReplayPbx:
        self._server = await asyncio.start_server(self._session, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiParser()
        try:
            while data := await reader.read(65536):
                for msg in parser.feed(data):
                    self._on_action(msg, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _on_action(self, msg: AmiMessage, writer: asyncio.StreamWriter) -> None:
        action = msg.get("Action") or ""
        aid = msg.get("ActionID") or ""
        self.stats.actions[action] = self.stats.actions.get(action, 0) + 1
        if action in LIST_ACTIONS:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: list follows\r\n\r\n"
                         f"Event: {LIST_ACTIONS[action]}\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                         f"ListItems: 0\r\n\r\n".encode())
            return
        if action == "Ping":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n"
                         f"Timestamp: {time.time():.6f}\r\n\r\n".encode())
            return
        message = "Originate successfully queued" if action == "Originate" else "OK"
        writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: {message}\r\n\r\n".encode())
        if action == "Login":
            writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\n"
                         b"Status: Fully Booted\r\n\r\n")
        elif action == "Originate":
            task = asyncio.create_task(self._play(msg, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif action == "Setvar" and msg.get("Variable") == "CALLGUARD_GO" and msg.get("Value") == "yes":
            channel = msg.get("Channel") or ""
            if channel not in self._go:
                self.stats.go_unknown.append(channel)
            self._go.setdefault(channel, asyncio.Event()).set()

    async def _play(self, msg: AmiMessage, writer: asyncio.StreamWriter) -> None:
        self.stats.originated += 1
        self._seq += 2
        call_id = msg.get("ChannelId") or str(uuid.uuid4())
        agent_channel = f"{msg.get('Channel')}-{self._seq:08x}"
        subs = ((CALL_ID, call_id), (AGENT_CHANNEL, agent_channel),
                (CUSTOMER_CHANNEL, f"PJSIP/customers-{self._seq + 1:08x}"),
                (CUSTOMER_UID, f"replay-{int(time.time())}.{self._seq + 1}"), (NUMBER, msg.get("Exten") or NUMBER))
        bridge = str(uuid.uuid4())
        go = self._go.setdefault(agent_channel, asyncio.Event())
        waited_go = False
        try:
            for step in self.steps:
                if step.gated and not waited_go:
                    waited_go = True
                    t_wait = time.perf_counter()
                    try:
                        await asyncio.wait_for(go.wait(), GO_TIMEOUT_S)
                        self.stats.go_waits.append(time.perf_counter() - t_wait)
                    except TimeoutError:
                        self.stats.no_go += 1
                        return
                if step.wait:
                    await asyncio.sleep(self.ring_s if step.wait == "ring" else self.talk_s)
                text = step.text
                for old, new in subs:
                    text = text.replace(old, new)
                text = _BRIDGE.sub(f"BridgeUniqueid: {bridge}", text)
                text = _TIMESTAMP.sub(f"Timestamp: {time.time():.6f}", text)
                writer.write(text.encode())
            self.stats.completed += 1
        finally:
            self._go.pop(agent_channel, None)
