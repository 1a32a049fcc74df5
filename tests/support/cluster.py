"""Two service instances over one database (SQLite and PostgreSQL), sharing nothing else (fixture `cluster`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import build_container
from app.container import Container
from auth.models import Role
from auth.service import Authenticator, create_user, issue_token
from config.settings import Settings, load_settings
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from db.migrate import migrate
from tests.support.doubles import AllowAllGate, RecordingPbx

USERS = [("ada", Role.ADMIN, None, []), ("mia", Role.MANAGER, None, ["bank1"]),
         ("alice", Role.AGENT, "1001", ["bank1"]), ("hook", Role.INTEGRATION, None, ["bank1"])]


@dataclass
class Instance:
    client: TestClient[Any, Any]
    container: Container


@dataclass
class Cluster:
    """Instances ``a`` and ``b`` of the service over one database; ``sleeps`` are the throttle's delays."""

    a: Instance
    b: Instance
    tokens: dict[str, str]
    sleeps: list[float] = field(default_factory=list)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def cluster_settings(database_url: str) -> Settings:
    return load_settings(None, database={"url": database_url},
                         auth={"delay_after_failures": 2, "delay_step_ms": 100, "max_delay_ms": 250,
                               "lockout_after_failures": 4, "lockout_s": 60, "failure_window_s": 600,
                               "stream_recheck_s": 0.3})


async def _instance(stack: AsyncExitStack, settings: Settings, sleeps: list[float]) -> Instance:
    db = await stack.enter_async_context(Database(settings.database))
    tasks = await stack.enter_async_context(TaskGroup())
    events, clock = EventLog(), Clock()
    stream = EventStream(db, poll_interval=0.05)
    events.add_commit_listener(stream.wake)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    container = build_container(settings=settings, clock=clock, db=db, events=events, stream=stream, tasks=tasks,
                                pbx=RecordingPbx(), gate=AllowAllGate())
    container.auth = Authenticator(db=db, settings=settings.auth, clock=clock, sleep=sleep)  # no real waiting
    container.sessions.auth = container.auth
    tasks.spawn(stream.run(), name="stream")
    stack.callback(stream.close)
    client = TestClient(TestServer(make_app(container)))
    await client.start_server()
    stack.push_async_callback(client.close)
    return Instance(client, container)


@pytest.fixture
async def cluster(database_url: str) -> AsyncIterator[Cluster]:
    settings = cluster_settings(database_url)
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database))
        await migrate(db)
        tokens = {}
        async with db.begin() as s:
            for uid, role, sip, clients in USERS:
                await create_user(s, user_id=uid, role=role, sip_user=sip, team="t1", clients=clients)
                tokens[uid] = await issue_token(s, user_id=uid)
        sleeps: list[float] = []
        a = await _instance(stack, settings, sleeps)
        b = await _instance(stack, settings, sleeps)
        yield Cluster(a, b, tokens, sleeps)
