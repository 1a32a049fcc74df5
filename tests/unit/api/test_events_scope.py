"""The live event stream behind the tenant walls: each principal sees only its clients' (team's, own) events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from auth.models import Role
from auth.scope import Scope
from auth.service import create_user, issue_token
from auth.stream import sees_event
from core.events import DomainEvent
from tests.support.composed import Composed, composed

pytestmark = pytest.mark.fake_events  # the stream's walls, with hand-made events

BANK_A, BANK_B = "bank-a", "bank-b"


def test_the_rule_per_scope() -> None:
    a_t1 = {"type": "call.ended", "client_id": BANK_A, "team": "t1", "agent_id": "alice"}
    a_t2 = {"type": "case.updated", "client_id": BANK_A, "team": "t2", "agent_id": None}
    b = {"type": "call.ended", "client_id": BANK_B, "team": "t1", "agent_id": "alice"}
    platform = {"type": "recording.probe_finished", "client_id": None, "team": None, "agent_id": None}
    manager_a = Scope(clients=frozenset({BANK_A}))
    assert [sees_event(manager_a, e) for e in (a_t1, a_t2, b, platform)] == [True, True, False, False]
    supervisor_t2 = Scope(clients=frozenset({BANK_A}), team="t2")
    assert [sees_event(supervisor_t2, e) for e in (a_t1, a_t2, b, platform)] == [False, True, False, False]
    agent = Scope(clients=frozenset({BANK_A}), team="t1", agent="alice")
    assert [sees_event(agent, e) for e in (a_t1, a_t2, b, platform)] == [True, False, False, False]
    assert all(sees_event(Scope.everything(), e) for e in (a_t1, a_t2, b, platform))


async def _collect(svc: Composed, user: str, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with svc.client.get("/v1/events", headers=svc.auth(user)) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.startswith(b"data: "):
                data = json.loads(line[6:])
                if "type" in data:
                    out.append(data)
                    if len(out) == n:
                        return out
    return out


async def test_each_bank_sees_only_its_own_events(database_url: str, tmp_path: Path) -> None:
    async with composed(tmp_path, database_url) as svc:
        async with svc.container.db.begin() as s:
            for uid, role, team, clients in (
                    ("mgr_a", Role.MANAGER, None, [BANK_A]), ("qa_a", Role.QA, None, [BANK_A]),
                    ("int_a", Role.INTEGRATION, None, [BANK_A]), ("sup_t2", Role.SUPERVISOR, "t2", [BANK_A]),
                    ("agent_a", Role.AGENT, "t1", [BANK_A]), ("mgr_b", Role.MANAGER, None, [BANK_B])):
                await create_user(s, user_id=uid, role=role, team=team, clients=clients,
                                  sip_user="1009" if role is Role.AGENT else None)
                svc.tokens[uid] = await issue_token(s, user_id=uid)
        # every leak of a forbidden event would arrive before (or between) the events each one expects
        expect = {"mgr_a": ["a1", "a2"], "qa_a": ["a1", "a2"], "int_a": ["a1", "a2"], "sup_t2": ["a2"],
                  "agent_a": ["a1"], "mgr_b": ["b1", "b2"], "ada": ["b1", "none", "a1", "a2", "b2"]}
        tasks = {u: asyncio.create_task(_collect(svc, u, len(names))) for u, names in expect.items()}
        await asyncio.wait_for(svc.container.stream.wait_for_subscribers(len(tasks)), 10)
        produced = {"b1": DomainEvent(type="case.updated", case_id="cb", client_id=BANK_B, team="t2", payload={}),
                    "none": DomainEvent(type="recording.probe_finished", payload={}),
                    "a1": DomainEvent(type="call.requested", call_id="k1", agent_id="agent_a", client_id=BANK_A,
                                      team="t1", payload={}),
                    "a2": DomainEvent(type="case.updated", case_id="ca", client_id=BANK_A, team="t2", payload={}),
                    "b2": DomainEvent(type="call.ended", call_id="k2", agent_id="agent_a", client_id=BANK_B,
                                      team="t2", payload={})}
        ids = {}
        for name, event in produced.items():
            async with svc.container.db.begin() as s:
                ids[(await svc.container.events.record(s, event)).event_id] = name
        for user, names in expect.items():
            got = await asyncio.wait_for(tasks[user], 10)
            assert [ids[e["id"]] for e in got] == names, user
            assert all(e["client_id"] == produced[ids[e["id"]]].client_id for e in got)
