"""The composed service on a real socket, on SQLite, in a thread of its own (for synchronous clients)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from api.app import make_app
from app.compose import compose
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings


@dataclass(frozen=True)
class Running:
    """Where the service listens and the admin's token."""

    url: str
    admin_token: str


def closed_port() -> int:
    """A local TCP port nothing listens on (the PBX stays unreachable: dials answer 503 ``pbx``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _serve(tmp: Path, ready: asyncio.Future[Running], stop: asyncio.Event) -> None:
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'contract.db'}"},
        server={"instance_id": "contract", "max_body_bytes": 65_536, "max_bulk_body_bytes": 1_048_576},
        pbx=[{"name": "local", "ami_port": closed_port()}],
        recordings={"spool_dir": str(tmp / "spool"), "min_free_bytes": 0},
        storage={"backend": "local", "local_root": str(tmp / "store")},
        compliance={"default_profile": "DEMO"},
        # the fuzzer's authentication probes are many failed sign-ins from one address: no lockout here
        # and one client sending as fast as it can: no request rate limit either
        auth={"delay_after_failures": 1_000_000, "lockout_after_failures": 1_000_000,
              "requests_per_s": 1_000_000, "request_burst": 10_000_000},
    )
    async with compose(settings) as container:
        async with container.db.begin() as s:
            await create_user(s, user_id="ada", role=Role.ADMIN)
            await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", pbx="local", team="t1")
            token = await issue_token(s, user_id="ada")
        runner = web.AppRunner(make_app(container), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            ready.set_result(Running(f"http://{host}:{port}", token))
            await stop.wait()
        finally:
            await runner.cleanup()


@contextmanager
def running_service(tmp: Path) -> Iterator[Running]:
    """Serve until the block ends; yields the URL and an admin token."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[Running] = loop.create_future()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(_serve(tmp, ready, stop))
        except BaseException as exc:  # reported to the waiting test below
            failure.append(exc)
            if not ready.done():
                ready.cancel()

    thread = threading.Thread(target=main, name="contract-service", daemon=True)
    thread.start()
    try:
        running = asyncio.run_coroutine_threadsafe(_wait(ready), loop).result(timeout=60)
        yield running
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
    if failure:
        raise failure[0]


async def _wait(ready: asyncio.Future[Running]) -> Running:
    return await ready
