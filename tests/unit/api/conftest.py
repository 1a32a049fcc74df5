"""An in-process API over a real SQLite database with test doubles for the PBX and the gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import build_container
from app.container import Container
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from db.migrate import migrate
from tests.support.doubles import AllowAllGate, RecordingPbx


@dataclass
class Api:
    client: TestClient[Any, Any]
    container: Container
    pbx: RecordingPbx
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"},
                             server={"max_body_bytes": 4096, "max_bulk_body_bytes": 65536})
    async with Database(settings.database) as db, TaskGroup() as tasks:
        await migrate(db)
        tokens = {}
        async with db.begin() as s:
            for uid, role, sip in [("alice", Role.AGENT, "1001"), ("bob", Role.AGENT, "1002"),
                                   ("sam", Role.SUPERVISOR, None), ("mia", Role.MANAGER, None),
                                   ("quinn", Role.QA, None), ("ada", Role.ADMIN, None)]:
                # everyone serves bank1 but ada, the global admin
                await create_user(s, user_id=uid, role=role, sip_user=sip, team="t1",
                                  clients=() if uid == "ada" else ("bank1",))
                tokens[uid] = await issue_token(s, user_id=uid)
        pbx = RecordingPbx()
        events = EventLog()
        stream = EventStream(db, poll_interval=0.05)
        events.add_commit_listener(stream.wake)
        container = build_container(settings=settings, clock=Clock(), db=db, events=events, stream=stream,
                                    tasks=tasks, pbx=pbx, gate=AllowAllGate("bank1"))
        tasks.spawn(stream.run(), name="stream")
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Api(client, container, pbx, tokens)
        finally:
            stream.close()
            await client.close()
