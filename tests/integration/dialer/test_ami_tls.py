"""AMI over TLS: the real Asterisk with a TLS listener (manager.conf tlsenable), the service's AMI client logs in
over it, verifying the PBX's certificate, and a click-to-dial works through it; a client that does not trust
the certificate, or does not speak TLS, gets no AMI session."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from config.tls import client_context
from dialer.ami import AmiClient
from sandbox.pbx import AgentAccount, AmiTls, PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.stack import Stack, service_stack
from tests.support.certs import Cert, self_signed

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "agent-tls-1"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return self_signed(tmp_path_factory.mktemp("ami-tls"), "pbx-tls")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tls_pbx(cert: Cert) -> AsyncIterator[PbxSandbox]:
    """An Asterisk of its own with AMI's TLS listener (the session PBX stays plain)."""
    pbx = PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                     customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("1001", PASSWORD)],
                     ami_tls=AmiTls(free_port(), cert.cert, cert.key))
    async with pbx:
        yield pbx


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tls_pbx: PbxSandbox, cert: Cert, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[Stack]:
    """The service whose only AMI connection is the TLS one, and agent 1001's answering phone."""
    assert tls_pbx.ami_tls is not None
    config = PhonesConfig(pbx_host=tls_pbx.sip_host, pbx_port=tls_pbx.sip_port,
                          customer_port=tls_pbx.settings.customer_trunk_port,
                          agents=[AgentPhone("1001", PASSWORD, answer_delay=0.2)])
    async with PhonesProcess(config), service_stack(
            tls_pbx, tmp_path_factory.mktemp("svc"), ami_port=tls_pbx.ami_tls.port,
            ami={"ami_tls": True, "ami_tls_ca_file": str(cert.cert)}) as s:
        yield s


async def test_the_service_logs_in_over_tls_and_a_click_to_dial_works(stack: Stack, tls_pbx: PbxSandbox) -> None:
    assert tls_pbx.ami_tls is not None
    client = stack.container.pbx.client("local")
    assert client.tls is not None and client.port == tls_pbx.ami_tls.port != tls_pbx.ami_port
    assert client.connected and client.banner is not None and client.banner.startswith("Asterisk Call Manager")
    call = await stack.dial("ana", "+8613800000001")
    await stack.wait_state(call["id"], "answered")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed" and ended["talk_seconds"] is not None


async def test_a_client_that_does_not_trust_the_certificate_never_logs_in(tls_pbx: PbxSandbox,
                                                                          tmp_path: Path) -> None:
    assert tls_pbx.ami_tls is not None
    stranger = self_signed(tmp_path, "stranger")
    down = asyncio.Event()

    class Down(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "connection down" in record.getMessage():
                down.set()

    logger = logging.getLogger("tests.ami-tls.untrusting")
    logger.addHandler(Down())
    async with AmiClient(tls_pbx.ami_host, tls_pbx.ami_tls.port, tls_pbx.ami_user, tls_pbx.ami_secret,
                         name="untrusting", reconnect_initial=0.05, reconnect_max=0.2, logger=logger,
                         tls=client_context(stranger.cert)) as client:
        await asyncio.wait_for(down.wait(), 15)  # the first attempt ended (logged once)
        assert not client.connected
        assert "CERTIFICATE_VERIFY_FAILED" in client.state()["last_error"]


async def test_plain_tcp_to_the_tls_port_gets_no_manager_banner(tls_pbx: PbxSandbox) -> None:
    assert tls_pbx.ami_tls is not None
    reader, writer = await asyncio.open_connection(tls_pbx.ami_host, tls_pbx.ami_tls.port)
    writer.write(b"Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(15):
        answer = await reader.read()  # until Asterisk drops the failed handshake
    writer.close()
    assert b"Asterisk Call Manager" not in answer and b"Response" not in answer
