"""The PBX image's health check (docker/pbx/Dockerfile HEALTHCHECK) is run against the real sandbox Asterisk:
healthy while it runs, unhealthy once it is stopped (Docker is not available here; the command is)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from sandbox.pbx import AgentAccount, PbxSandbox
from sip.ports import free_port, free_tcp_udp_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[3]


def _image_check() -> list[str]:
    text = (ROOT / "docker" / "pbx" / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
    assert found
    cmd: list[str] = json.loads(found.group(1))
    return cmd


async def _check(pbx: PbxSandbox) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INSTANCE_DIR": pbx.instance_dir_in_chroot}
    return await asyncio.to_thread(subprocess.run, ["chroot", str(pbx.rootfs), *_image_check()], env=env,
                                   capture_output=True, text=True, timeout=60, check=False)


async def test_the_image_health_check_follows_asterisk() -> None:
    pbx = PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                     customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("3001", "pw-3001")])
    async with pbx:
        healthy = await _check(pbx)
        assert healthy.returncode == 0, healthy.stderr
        await pbx.stop()
        stopped = await _check(pbx)
        assert stopped.returncode != 0
