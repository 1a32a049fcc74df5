"""A SIP phone that places the recording probe's call (``recordings.probe.ProbePhone``, structurally).

It calls ``sip:probe@<pbx>`` with ``X-Callguard-Call-Id: <probe id>`` and plays a tone, either on a
phone of an already running phones process (``PhonesProbePhone``) or on its own phones process
registered with the probe SIP account (``SipProbePhone``, an async context manager).
"""

from __future__ import annotations

import importlib.util
from types import TracebackType

from sip.client import PhonesError, PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_tcp_udp_port

PROBE_HEADER = "X-Callguard-Call-Id"


class PhonesProbePhone:
    """A phone of a running phones process (``PhonesProcess``) used as the probe phone."""

    def __init__(self, process: PhonesProcess | None, phone: str, *, host: str, port: int,
                 tone_hz: float) -> None:
        self.process, self.phone, self.uri = process, phone, f"sip:probe@{host}:{port}"
        self.tone_hz = tone_hz

    async def call(self, probe_id: str, seconds: float) -> bool:
        """Send the ``call`` command and wait for the call to end; True when it was answered."""
        if self.process is None:
            raise PhonesError("the probe phone's process is not running")
        mark = self.process.mark()
        await self.process.send({"cmd": "call", "phone": self.phone, "uri": self.uri,
                                 "headers": {PROBE_HEADER: probe_id}, "hangup_after": seconds,
                                 "tone_hz": int(self.tone_hz)})
        ended = await self.process.wait_for("ended", phone=self.phone, direction="out", since=mark,
                                            timeout=seconds + 20.0)
        return bool(ended.get("answered"))


class SipProbePhone(PhonesProbePhone):
    """Starts its own phones process registered with the probe SIP account (async context manager)."""

    def __init__(self, *, user: str, password: str, host: str, port: int, tone_hz: float) -> None:
        super().__init__(None, user, host=host, port=port, tone_hz=tone_hz)
        self._user, self._password, self._host, self._port = user, password, host, port
        self._cm: PhonesProcess | None = None

    async def __aenter__(self) -> SipProbePhone:
        if importlib.util.find_spec("pjsua2") is None:  # an optional extra: only looked for, never imported
            raise PhonesError("pjsua2 is not installed (optional 'sip' extra)")
        cfg = PhonesConfig(pbx_host=self._host, pbx_port=self._port, customer_port=free_tcp_udp_port(),
                           agents=[AgentPhone(self._user, self._password, behaviour="never",
                                              tone_hz=int(self.tone_hz))])
        self._cm = PhonesProcess(cfg)
        self.process = await self._cm.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._cm is not None:
            await self._cm.__aexit__(et, exc, tb)
