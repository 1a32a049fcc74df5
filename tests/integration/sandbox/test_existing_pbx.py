"""docs/EXISTING-PBX.md, applied as written on top of Debian's stock ``asterisk-config`` (Asterisk 22 in the
sandbox rootfs): a click-to-dial call through it is answered, recorded and ingested.

The harness changes only what isolates this Asterisk from the others on the machine (its directories, AMI port,
a tooling AMI account for the readiness check) and adds what an agency already has (a SIP transport, an agent's
phone, a trunk named ``carrier``); everything Callguard needs comes from the guide's titled snippets.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from recordings.models import Recording
from sandbox import render, rootfs
from sandbox.pbx import (
    LOCALHOST,
    MUTABLE_DIRS,
    TEMPLATES_DIR,
    AgentAccount,
    PbxSandbox,
    sandbox_manager_conf,
    sweep_stale_instances,
    template_values,
)
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "EXISTING-PBX.md"
GUIDE_RECDIR = "/var/spool/asterisk/callguard"
PASSWORD = "agent-stock-1"
TRUNK = "carrier"
_BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```', re.M | re.S)


def snippets() -> dict[str, str]:
    """The guide's titled blocks, by title."""
    found = {title: body for title, body in _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))}
    assert set(found) == {"manager.d/callguard.conf", "manager.conf: in [general]", "render", "trunk",
                          "extensions.conf: after [globals]", "extensions.conf: at the end"}
    return found


def _after_header(text: str, header: str, lines: str) -> str:
    """``lines`` inserted right after the first ``header`` line."""
    head, sep, rest = text.partition(f"\n{header}\n")
    assert sep, f"no {header} section"
    return f"{head}{sep}{lines}{rest}"


class StockPbx(PbxSandbox):
    """The sandbox Asterisk, configured by Debian's stock files plus the guide instead of Callguard's templates."""

    def _prepare_instance_dir(self) -> None:
        sweep_stale_instances(self.rootfs)
        uid, gid = rootfs.run_ids(self.rootfs)
        inst = self.instance_dir
        inst.mkdir(parents=True, exist_ok=True)
        (inst / "owner.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
        etc = inst / "etc"
        shutil.copytree(self.rootfs / "etc" / "asterisk", etc)  # the stock configuration, as installed
        recdir = f"{self.instance_dir_in_chroot}/recordings"
        values = template_values(self.settings, self.instance_dir_in_chroot)
        # isolation: this instance's own directories, AMI port and tooling account
        (etc / "asterisk.conf").write_text(render.render(
            (TEMPLATES_DIR / "asterisk.conf.tmpl").read_text(encoding="utf-8"), values, allow_unused=True))
        manager = (etc / "manager.conf").read_text(encoding="utf-8")
        assert "\nport = 5038\n" in manager and '#include "manager.d/*.conf"' in manager
        (etc / "manager.conf").write_text(manager.replace("\nport = 5038\n", f"\nport = {self.ami_port}\n"))
        (etc / "manager.d" / "sandbox.conf").write_text(
            sandbox_manager_conf(self.tools_ami_user, self.tools_ami_secret), encoding="utf-8")
        # what the agency already has: a transport, an agent's phone, a trunk
        with (etc / "pjsip.conf").open("a", encoding="utf-8") as pjsip:
            pjsip.write(f"""
[transport-udp]
type = transport
protocol = udp
bind = {LOCALHOST}:{self.sip_port}

[1001]
type = endpoint
context = default
disallow = all
allow = ulaw,alaw
auth = 1001
aors = 1001
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes

[1001]
type = auth
auth_type = userpass
username = 1001
password = {PASSWORD}

[1001]
type = aor
max_contacts = 1
remove_existing = yes

[{TRUNK}]
type = endpoint
context = default
disallow = all
allow = ulaw,alaw
aors = {TRUNK}
direct_media = no
rtp_symmetric = yes

[{TRUNK}]
type = aor
contact = sip:{LOCALHOST}:{self.settings.customer_trunk_port}
""")
        # the guide, as written
        guide = snippets()
        account = guide["manager.d/callguard.conf"].replace("CHANGE-ME-long-random", self.ami_secret)
        (etc / "manager.d" / "callguard.conf").write_text(account, encoding="utf-8")
        manager = (etc / "manager.conf").read_text(encoding="utf-8")
        (etc / "manager.conf").write_text(_after_header(manager, "[general]", guide["manager.conf: in [general]"]))
        words = shlex.split(guide["render"].replace("\\\n", " "))
        env = dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_]+=.*", w))
        assert env["RECORDINGS_DIR"] == GUIDE_RECDIR
        env["RECORDINGS_DIR"] = recdir  # isolation: this instance's spool
        assert words[-4:] == ["sandbox/render.py", "--existing-pbx-dialplan", "config/asterisk/extensions.conf.tmpl",
                              "/etc/asterisk"]
        assert render.main(["--existing-pbx-dialplan", str(ROOT / words[-2]), str(etc)]) == 1  # values missing
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            assert render.main(["--existing-pbx-dialplan", str(ROOT / words[-2]), str(etc)]) == 0
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        sed = re.fullmatch(r"sed -i 's/(.+)/(.+)/' /etc/asterisk/(\S+)\n", guide["trunk"])
        assert sed, guide["trunk"]
        dialplan = etc / sed.group(3)
        text = dialplan.read_text(encoding="utf-8")
        assert sed.group(1) in text
        dialplan.write_text(text.replace(sed.group(1), sed.group(2).replace("YOUR-TRUNK", TRUNK)))
        extensions = (etc / "extensions.conf").read_text(encoding="utf-8")
        extensions = _after_header(extensions, "[globals]", guide["extensions.conf: after [globals]"])
        (etc / "extensions.conf").write_text(extensions + "\n" + guide["extensions.conf: at the end"])
        for path in (etc, *etc.rglob("*")):
            os.chown(path, 0, gid)
            path.chmod(0o750 if path.is_dir() else 0o640)
        for sub in MUTABLE_DIRS:
            (inst / sub).mkdir(exist_ok=True)
            os.chown(inst / sub, uid, gid)
            (inst / sub).chmod(0o750)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Stack, StockPbx]]:
    pbx = StockPbx(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                   customer_trunk_port=free_tcp_udp_port(), agents=[AgentAccount("1001", PASSWORD)],
                   startup_timeout=90)
    async with pbx:
        config = PhonesConfig(pbx_host=pbx.sip_host, pbx_port=pbx.sip_port,
                              customer_port=pbx.settings.customer_trunk_port,
                              agents=[AgentPhone("1001", PASSWORD, answer_delay=0.2)])
        async with PhonesProcess(config), service_stack(pbx, tmp_path_factory.mktemp("svc")) as s:
            yield s, pbx


async def test_the_stock_config_stays_stock_but_for_the_guide(stack: tuple[Stack, StockPbx]) -> None:
    _, pbx = stack
    stock, etc = pbx.rootfs / "etc" / "asterisk", pbx.instance_dir / "etc"
    assert (etc / "modules.conf").read_bytes() == (stock / "modules.conf").read_bytes()  # autoload, as shipped
    assert (etc / "extensions.conf").read_text().count("\n[") >= (stock / "extensions.conf").read_text().count("\n[")
    added = {p.relative_to(etc).as_posix() for p in etc.rglob("*")} - {
        p.relative_to(stock).as_posix() for p in stock.rglob("*")}
    assert added == {"manager.d/callguard.conf", "manager.d/sandbox.conf", "extensions_callguard.conf",
                     "extensions_callguard_globals.conf"}


async def test_a_click_to_dial_through_it_is_answered_recorded_and_ingested(stack: tuple[Stack, StockPbx]) -> None:
    s, _ = stack
    call = await s.dial("ana", "+8613800000001")
    await s.wait_state(call["id"], "answered")
    r = await s.client.post(f"/v1/calls/{call['id']}/hangup", headers=s.auth("ana"))
    assert r.status == 202
    ended = await s.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed" and ended["talk_seconds"] is not None
    async with asyncio.timeout(60):  # the ingest picks the recording up from the spool
        while True:
            async with s.container.db.read() as session:
                rec = await session.scalar(select(Recording).where(Recording.call_id == call["id"]))
            if rec is not None and rec.state == "stored":
                break
            await asyncio.sleep(0.2)
    assert rec.channels == 2 and rec.key is not None and rec.sha256 is not None
    assert await s.container.recordings_feature().store.verify(rec.key, rec.sha256, version_id=rec.version_id)
