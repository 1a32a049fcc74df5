"""The service as the composition root builds it (real gate, hooks, recordings), with no PBX reachable."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import compose
from app.container import Container
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from core.clock import Clock

#: one user per role; the agent has a phone
USERS: dict[str, Role] = {"alice": Role.AGENT, "sam": Role.SUPERVISOR, "quinn": Role.QA, "mia": Role.MANAGER,
                          "ada": Role.ADMIN, "casesys": Role.INTEGRATION}


@dataclass
class Composed:
    """A composed service and its HTTP client; ``tokens`` by user, ``users`` by role."""

    client: TestClient[Any, Any]
    container: Container
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def as_role(self, role: Role) -> dict[str, str]:
        return self.auth(next(u for u, r in USERS.items() if r is role))


def closed_port() -> int:
    """A local TCP port nothing listens on (the PBX of these tests is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def composed(tmp: Path, database_url: str, *, clock: Clock | None = None,
                   **overrides: Any) -> AsyncIterator[Composed]:
    """``app.compose.compose`` over ``database_url``, with local storage under ``tmp`` and its HTTP API (the PBX
    unreachable unless ``pbx`` is given; ``clock``: a fake clock for every service)."""
    spool = tmp / "spool"
    spool.mkdir()
    settings = load_settings(
        None,
        database={"url": database_url},
        recordings={"spool_dir": str(spool)},
        storage={"backend": "local", "local_root": str(tmp / "store")},
        **{"pbx": [{"name": "local", "ami_host": "127.0.0.1", "ami_port": closed_port(), "ami_user": "x",
                    "ami_secret": "y"}], **overrides},  # a test may give a PBX of its own (a fake AMI)
    )
    async with compose(settings, clock=clock) as container:
        tokens = {}
        async with container.db.begin() as s:
            for user, role in USERS.items():
                await create_user(s, user_id=user, role=role, sip_user="1001" if role is Role.AGENT else None,
                                  team="t1", clients=() if role is Role.ADMIN else ("bank1",))
                tokens[user] = await issue_token(s, user_id=user)
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Composed(client, container, tokens)
        finally:
            await client.close()
