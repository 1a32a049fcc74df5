"""SIP over TLS with SRTP: the PBX's TLS transport and ``media_encryption = sdes`` for agents (sandbox SipTls), a
real SIP phone (Debian's baresip) registering over TLS with mandatory SRTP and auto-answering with a tone from a
WAV file, and a click-to-dial from the service whose customer (the pjsua2 line, UDP) answers; the recording's
agent channel carries baresip's tone, so the SRTP media was decrypted by Asterisk.

baresip 1.0.0 is given the PBX's certificate as ``sip_cafile`` but has no setting to verify the server with it (it
registers just the same with a stranger's CA), so this proves encryption, not that the phone authenticated the PBX.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.pbx import AgentAccount, PbxSandbox, SipTls
from sip.client import PhonesProcess
from sip.config import PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.sandbox.helpers import dominant_frequency, wait_for_file
from tests.integration.stack import Stack, service_stack
from tests.support.certs import Cert, self_signed
from tests.support.wavgen import tone_samples, write_wav

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "agent-sip-tls-1"
AGENT_TONE_HZ = 700


class Baresip:
    """baresip as a managed subprocess with its own config dir; every output line is kept and can be waited for."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Baresip:
        baresip = shutil.which("baresip")
        assert baresip, "baresip is installed by scripts/system-deps"
        # -s: SIP trace (the SDP Asterisk offers shows up in the log); -v: media details
        self._proc = await asyncio.create_subprocess_exec(
            baresip, "-f", str(self.config_dir), "-s", "-v", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self._reader = asyncio.create_task(self._read(), name="baresip-log")
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            async with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._changed.notify_all()

    async def wait_line(self, pattern: str, within: float = 20.0) -> str:
        """The first output line matching ``pattern`` (a regex), waiting for it."""
        regex = re.compile(pattern)
        async with asyncio.timeout(within), self._changed:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                await self._changed.wait()

    @property
    def log(self) -> str:
        """Everything baresip printed so far."""
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return self_signed(tmp_path_factory.mktemp("sip-tls"), "pbx-sip-tls")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tls_pbx(cert: Cert) -> AsyncIterator[PbxSandbox]:
    """An Asterisk of its own whose agent 1001 registers over TLS with SRTP (the session PBX stays plain)."""
    pbx = PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                     customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("1001", PASSWORD)],
                     sip_tls=SipTls(free_port(), cert.cert, cert.key, srtp=True))
    async with pbx:
        yield pbx


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def phone(tls_pbx: PbxSandbox, cert: Cert, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[Baresip]:
    """baresip as agent 1001: TLS to the PBX trusting its CA, mandatory SRTP, auto-answer, a tone as microphone."""
    assert tls_pbx.sip_tls is not None
    home = tmp_path_factory.mktemp("baresip")
    tone = write_wav(home / "tone.wav", tone_samples(AGENT_TONE_HZ, 60))
    (home / "config").write_text("\n".join([
        "poll_method epoll", "net_interface 127.0.0.1", f"sip_listen 127.0.0.1:{free_port()}",
        f"sip_cafile {cert.cert}",  # loaded, but baresip 1.0.0 does not refuse a PBX certificate it does not sign
        f"audio_source aufile,{tone}", f"audio_alert aufile,{tone}",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so", "module srtp.so",
        "module_app account.so", "answer_mode auto", ""]), encoding="utf-8")
    (home / "accounts").write_text(
        f"<sip:1001@{tls_pbx.sip_host}:{tls_pbx.sip_tls.port};transport=tls>;auth_pass={PASSWORD};"
        "mediaenc=srtp-mand;answermode=auto;regint=60\n", encoding="utf-8")
    async with Baresip(home) as baresip:
        await baresip.wait_line(r"1001@127\.0\.0\.1: \{0/TLS/v4\} 200 OK")  # registered over TLS
        yield baresip


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tls_pbx: PbxSandbox, phone: Baresip, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[Stack]:
    """The service on the TLS PBX and the customer line (pjsua2, UDP); agent 1001 is baresip."""
    config = PhonesConfig(pbx_host=tls_pbx.sip_host, pbx_port=tls_pbx.sip_port,
                          customer_port=tls_pbx.settings.customer_trunk_port, agents=[])
    async with PhonesProcess(config), service_stack(tls_pbx, tmp_path_factory.mktemp("svc")) as s:
        yield s


async def test_a_click_to_dial_reaches_a_tls_srtp_phone_and_records_its_tone(
        stack: Stack, tls_pbx: PbxSandbox, phone: Baresip) -> None:
    log = await asyncio.to_thread(tls_pbx.log_path.read_text, encoding="utf-8")
    assert re.search(r"Added contact 'sip:1001[^']*;transport=TLS' to AOR '1001'", log), log

    call = await stack.dial("ana", "+8613800000001")
    await phone.wait_line(r"Call established")  # baresip auto-answered
    await stack.wait_state(call["id"], "answered")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed"

    # baresip's SIP trace (-s): Asterisk's INVITE came over TLS and offered SRTP with an SDES key; the media ran
    # SRTP (baresip's mediaenc event 'Secure')
    invite = re.search(r"^TLS 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\nINVITE sip:1001-[^\n]*;transport=TLS SIP/2\.0\n"
                       r"(?:.*\n)*?m=audio \d+ RTP/SAVP [^\n]*\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", phone.log,
                       re.MULTILINE)
    assert invite, phone.log
    await phone.wait_line(r"^srtp: audio: SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_80\)")
    await phone.wait_line(r"^call: mediaenc event 'Secure' \(audio,")
    await wait_for_file(tls_pbx.spool_dir / f"{call['id']}.done", within=20)
    # -rx = what the agent's phone sent: baresip's tone came through SRTP into the recording
    assert abs(dominant_frequency(tls_pbx.spool_dir / f"{call['id']}-rx.wav") - AGENT_TONE_HZ) < 60
