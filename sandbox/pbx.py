"""Run a real Asterisk 22 from the cached rootfs: ``PbxSandbox`` async context manager and CLI.

Each instance gets its own directory inside the rootfs (``<rootfs>/run/callguard/<id>/`` with
``etc/ spool/ log/ run/ db/ cache/ recordings/``), so several instances run at once from one
cached rootfs without bind mounts. Asterisk runs as ``chroot <rootfs> asterisk -C ... -f``.

CLI: ``python -m sandbox.pbx build`` (build/cache the rootfs) and
``python -m sandbox.pbx start --agent 1001:secret ...`` (run until interrupted).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from sandbox import render, rootfs
from sandbox.ami_check import AmiLoginError, login_and_wait_booted

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "config" / "asterisk"
INSTANCES_REL = Path("run/callguard")
LOCALHOST = "127.0.0.1"


class PbxStartError(RuntimeError):
    """Asterisk did not come up (exited, or AMI never accepted a Login) — message has the log tail."""


@dataclass(frozen=True)
class AgentAccount:
    """A SIP account an agent phone registers with."""

    sip_user: str
    password: str


@dataclass(frozen=True)
class PbxSettings:
    """Everything that goes into one instance's rendered configuration."""

    ami_port: int
    sip_port: int
    customer_trunk_port: int
    agents: tuple[AgentAccount, ...]
    ami_user: str = "callguard"
    ami_secret: str = "callguard-sandbox"
    recording_format: str = "wav"
    customer_dial_timeout: int = 30
    go_timeout_tenths: int = 100
    qualify_frequency: int = 2
    rtp_start: int = 20000
    rtp_end: int = 29999
    probe_tone_hz: int = 1000
    probe_max_seconds: int = 60


def template_values(settings: PbxSettings, instance_dir_in_chroot: str) -> dict[str, object]:
    """Values for every ``@@PLACEHOLDER@@`` in ``config/asterisk/*.conf.tmpl``."""
    return {
        "INSTANCE_DIR": instance_dir_in_chroot,
        "SYSTEM_NAME": "callguard-sandbox",
        "BIND_ADDRESS": LOCALHOST,
        "MEDIA_ADDRESS": LOCALHOST,
        "AMI_PERMIT": f"{LOCALHOST}/255.255.255.255",
        "CUSTOMER_HOST": LOCALHOST,
        "AMI_PORT": settings.ami_port,
        "AMI_USER": settings.ami_user,
        "AMI_SECRET": settings.ami_secret,
        "SIP_PORT": settings.sip_port,
        "CUSTOMER_PORT": settings.customer_trunk_port,
        "QUALIFY_FREQUENCY": settings.qualify_frequency,
        "RECORDINGS_DIR": f"{instance_dir_in_chroot}/recordings",
        "RECORDING_FORMAT": settings.recording_format,
        "CUSTOMER_DIAL_TIMEOUT": settings.customer_dial_timeout,
        "GO_TIMEOUT_TENTHS": settings.go_timeout_tenths,
        "RTP_START": settings.rtp_start,
        "RTP_END": settings.rtp_end,
        "PROBE_TONE_HZ": settings.probe_tone_hz,
        "PROBE_MAX_SECONDS": settings.probe_max_seconds,
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_instances(root: Path) -> None:
    """Remove instance dirs whose owning Python process is gone (crashed test runs)."""
    base = root / INSTANCES_REL
    if not base.is_dir():
        return
    for inst in base.iterdir():
        owner = inst / "owner.pid"
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(inst, ignore_errors=True)


class PbxSandbox:
    """A running Asterisk instance: ``async with PbxSandbox(...) as pbx`` (see module doc)."""

    def __init__(
        self,
        *,
        ami_port: int,
        sip_port: int,
        agents: Sequence[AgentAccount],
        customer_trunk_port: int,
        ami_user: str = "callguard",
        ami_secret: str = "callguard-sandbox",
        recording_format: str = "wav",
        customer_dial_timeout: int = 30,
        qualify_frequency: int = 2,
        rtp_ports: tuple[int, int] = (20000, 29999),
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        rootfs_dir: Path | None = None,
    ) -> None:
        self.settings = PbxSettings(
            ami_port=ami_port,
            sip_port=sip_port,
            customer_trunk_port=customer_trunk_port,
            agents=tuple(agents),
            ami_user=ami_user,
            ami_secret=ami_secret,
            recording_format=recording_format,
            customer_dial_timeout=customer_dial_timeout,
            qualify_frequency=qualify_frequency,
            rtp_start=rtp_ports[0],
            rtp_end=rtp_ports[1],
        )
        self.ami_host = LOCALHOST
        self.ami_port = ami_port
        self.ami_user = ami_user
        self.ami_secret = ami_secret
        self.sip_host = LOCALHOST
        self.sip_port = sip_port
        self.instance_id = uuid.uuid4().hex[:12]
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._rootfs_dir = rootfs_dir
        self._proc: asyncio.subprocess.Process | None = None
        self._proc_log: IO[bytes] | None = None
        self._root: Path | None = None

    # ---- paths -------------------------------------------------------------------------------
    @property
    def rootfs(self) -> Path:
        """Host path of the rootfs this instance runs from."""
        if self._root is None:
            raise RuntimeError("PBX sandbox not started")
        return self._root

    @property
    def instance_dir_in_chroot(self) -> str:
        """The instance directory as Asterisk sees it."""
        return f"/{INSTANCES_REL}/{self.instance_id}"

    @property
    def instance_dir(self) -> Path:
        """Host path of this instance's directory."""
        return self.rootfs / INSTANCES_REL / self.instance_id

    @property
    def spool_dir(self) -> Path:
        """Host path where MixMonitor writes recordings and ``.done`` markers."""
        return self.instance_dir / "recordings"

    @property
    def log_path(self) -> Path:
        """Host path of Asterisk's own log file (logger.conf ``messages.log``)."""
        return self.instance_dir / "log" / "messages.log"

    @property
    def process_log_path(self) -> Path:
        """Host path of the file collecting Asterisk's stdout/stderr."""
        return self.instance_dir / "log" / "process.log"

    # ---- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._root = self._rootfs_dir or await asyncio.to_thread(rootfs.build_rootfs)
        await asyncio.to_thread(self._prepare_instance_dir)
        try:
            await self._start_process()
        except BaseException:
            await self._stop_process()
            await asyncio.to_thread(shutil.rmtree, self.instance_dir, True)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop_process()
        await asyncio.to_thread(shutil.rmtree, self.instance_dir, True)

    async def restart(self) -> None:
        """Stop Asterisk (channels die) and start it again with the same config and spool."""
        await self._stop_process()
        await self._start_process()

    async def stop(self) -> None:
        """Stop Asterisk without removing the instance dir (for "PBX down" scenarios)."""
        await self._stop_process()

    async def start(self) -> None:
        """Start Asterisk again after ``stop()``."""
        await self._start_process()

    @property
    def running(self) -> bool:
        """True while the Asterisk process is alive."""
        return self._proc is not None and self._proc.returncode is None

    def _prepare_instance_dir(self) -> None:
        sweep_stale_instances(self.rootfs)
        inst = self.instance_dir
        for sub in ("etc", "spool", "log", "run", "db", "cache", "recordings"):
            (inst / sub).mkdir(parents=True, exist_ok=True)
        (inst / "owner.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
        values = template_values(self.settings, self.instance_dir_in_chroot)
        render.render_dir(TEMPLATES_DIR, inst / "etc", values)
        agents = [(a.sip_user, a.password) for a in self.settings.agents]
        (inst / "etc" / "pjsip_agents.conf").write_text(render.agents_pjsip_conf(agents), encoding="utf-8")

    async def _start_process(self) -> None:
        if self.running:
            raise RuntimeError("Asterisk already running")
        self._proc_log = self.process_log_path.open("ab")
        conf = f"{self.instance_dir_in_chroot}/etc/asterisk.conf"
        self._proc = await asyncio.create_subprocess_exec(
            "chroot", str(self.rootfs), "/usr/sbin/asterisk", "-C", conf, "-f",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._proc_log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._startup_timeout
        last_error: BaseException | None = None
        while loop.time() < deadline:
            proc = self._proc
            if proc is None or proc.returncode is not None:
                code = None if proc is None else proc.returncode
                raise PbxStartError(f"Asterisk exited during start-up (code {code}).\n{self.log_tail()}")
            try:
                remaining = max(0.5, deadline - loop.time())
                async with asyncio.timeout(min(5.0, remaining)):
                    await login_and_wait_booted(self.ami_host, self.ami_port, self.ami_user, self.ami_secret)
                return
            except AmiLoginError as exc:
                raise PbxStartError(f"AMI refused the sandbox login: {exc}\n{self.log_tail()}") from exc
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                last_error = exc
            await asyncio.sleep(0.05)
        raise PbxStartError(
            f"AMI on {self.ami_host}:{self.ami_port} not ready after {self._startup_timeout}s "
            f"(last error: {last_error!r}).\n{self.log_tail()}"
        )

    async def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            for sig, wait in ((signal.SIGTERM, self._stop_timeout), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    async with asyncio.timeout(wait):
                        await proc.wait()
                    break
                except TimeoutError:
                    continue
        if self._proc_log is not None:
            self._proc_log.close()
            self._proc_log = None

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of Asterisk's process output and log file (for error messages)."""
        chunks: list[str] = []
        for path in (self.process_log_path, self.log_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            chunks.append(f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(chunks) or "(no Asterisk log)"


if __name__ == "__main__":
    from sandbox.pbx_cli import main

    raise SystemExit(main())
