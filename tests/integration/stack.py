"""The real service (composition root, HTTP API) wired to the session's real PBX, for end-to-end tests."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import compose
from app.container import Container
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from sandbox.pbx import PbxSandbox
from tests.support import pgdb

#: the backends the multi-instance scenarios run on (PostgreSQL is what several instances share)
BACKENDS = ["sqlite", "postgres"]

AGENT_USERS = {"ana": "1001", "nick": "1002", "rita": "1003", "olga": "1004", "pete": "1005"}


#: the banks the end-to-end scenarios create cases for (users see only their clients' calls and events)
E2E_CLIENTS = ("b", "bank-none", "bank-p", "bank1", "e2e-bank")


@dataclass
class Stack:
    """A running service: HTTP client, container, tokens by user."""

    client: TestClient[Any, Any]
    container: Container
    tokens: dict[str, str]
    cases: dict[tuple[str, str], str] = field(default_factory=dict)  # (number, agent) -> the agent's case of it

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def case_for(self, number: str, agent: str) -> str:
        """The case of ``number`` assigned to ``agent`` (one per number and agent, sent by the case system on
        first use): an agent dials only its own cases."""
        if (number, agent) not in self.cases:
            r = await self.client.put(
                f"/v1/clients/e2e-bank/cases/E2E{number.lstrip('+')}-{agent}", headers=self.auth("casesys"),
                json={"debtor_name": "E2E Debtor", "amount": "100.00", "currency": "CNY", "agent": agent,
                      "team": "e2e", "contacts": [{"number": number, "kind": "mobile"}]})
            body = await r.json()
            assert r.status == 201, body
            self.cases[(number, agent)] = str(body["id"])
        return self.cases[(number, agent)]

    async def dial(self, agent: str, number: str, **extra: Any) -> dict[str, Any]:
        """An agent dials a case's number (the case made for ``number`` unless ``case_id`` is given)."""
        if "case_id" not in extra:
            extra["case_id"] = await self.case_for(number, agent)
        r = await self.client.post("/v1/calls", json={"agent": agent, "number": number, **extra},
                                   headers=self.auth(agent))
        body: dict[str, Any] = await r.json()
        assert r.status == 202, body
        return body

    async def call(self, call_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/calls/{call_id}", headers=self.auth("sup"))
        body: dict[str, Any] = await r.json()
        return body

    async def wait_state(self, call_id: str, *states: str, within: float = 30.0) -> dict[str, Any]:
        """Poll the API until the call reaches one of ``states`` (a wait, not a timing assertion)."""
        async with asyncio.timeout(within):
            while True:
                call = await self.call(call_id)
                if call["state"] in states:
                    return call
                await asyncio.sleep(0.1)


@asynccontextmanager
async def _diagnosed_exit(cm: AbstractAsyncContextManager[Container], within: float = 60.0
                          ) -> AsyncIterator[Container]:
    """Enter ``cm``; if leaving it takes longer than ``within``, print every pending task's stack and fail."""
    container = await cm.__aenter__()
    try:
        yield container
    finally:
        exit_task = asyncio.create_task(cm.__aexit__(None, None, None), name="service-shutdown")
        done, _ = await asyncio.wait({exit_task}, timeout=within)
        if not done:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    print(f"pending task {task.get_name()}: {task.get_coro()}", file=sys.stderr)
                    task.print_stack(limit=8, file=sys.stderr)
            exit_task.cancel()
            raise AssertionError(f"the service did not shut down within {within} s (pending tasks above)")
        exit_task.result()


@asynccontextmanager
async def database_url(backend: str, tmp: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file under ``tmp``, or a PostgreSQL database of its own (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'svc.db'}"
        return
    url, name = await pgdb.create_pg_database()
    try:
        yield url
    finally:
        await pgdb.drop_pg_database(name)


@asynccontextmanager
async def service_stack(pbx: PbxSandbox, tmp: Path, *, ami_port: int | None = None, backend: str = "sqlite",
                        ami: dict[str, Any] | None = None, **overrides: Any) -> AsyncIterator[Stack]:
    """Compose the service against ``pbx`` (optionally through a proxy port; ``ami``: more of its [[pbx]]
    settings, such as TLS) and serve its API."""
    async with database_url(backend, tmp) as url, _service_stack(pbx, tmp, url, ami_port=ami_port, ami=ami or {},
                                                                  **overrides) as stack:
        yield stack


@asynccontextmanager
async def _service_stack(pbx: PbxSandbox, tmp: Path, url: str, *, ami_port: int | None, ami: dict[str, Any],
                         **overrides: Any) -> AsyncIterator[Stack]:
    settings = load_settings(
        None,
        database={"url": url},
        pbx=[{"name": "local", "ami_host": pbx.ami_host, "ami_port": ami_port or pbx.ami_port,
              "ami_user": pbx.ami_user, "ami_secret": pbx.ami_secret, "ping_interval_s": 0.5,
              "pong_timeout_s": 1.0, "agent_ring_timeout_s": 5, **ami}],
        recordings={"spool_dir": str(pbx.spool_dir), **overrides.pop("recordings", {})},
        storage={"backend": "local", "local_root": str(tmp / "store")},
        compliance={"default_profile": "DEMO"},
        **overrides,
    )
    async with _diagnosed_exit(compose(settings)) as container:
        tokens = {}
        async with container.db.begin() as s:
            for user, sip in AGENT_USERS.items():
                await create_user(s, user_id=user, role=Role.AGENT, sip_user=sip, team="e2e", clients=E2E_CLIENTS)
                tokens[user] = await issue_token(s, user_id=user)
            for user, role in (("sup", Role.SUPERVISOR), ("casesys", Role.INTEGRATION), ("ada", Role.ADMIN)):
                # ada stays a global admin; the others serve the banks the scenarios create cases for
                await create_user(s, user_id=user, role=role, clients=() if role is Role.ADMIN else E2E_CLIENTS)
                tokens[user] = await issue_token(s, user_id=user)
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            await asyncio.wait_for(container.pbx.client("local").wait_connected(10), 15)
            # the service read the phones' states when it connected, possibly before the users above existed;
            # read them again so that olga (1004, never registered) is offline from the first test on, as she
            # would be after the next periodic read (presence.device_sync_interval_s) in production
            await container.presence.sync_devices("local")
            yield Stack(client, container, tokens)
        finally:
            await client.close()
