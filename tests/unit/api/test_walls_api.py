"""Tenant walls through the HTTP API with the real gate and case directory, on SQLite and PostgreSQL: bank A's
people get 404 for bank B's cases and calls exactly as for missing ones, lists show only what the caller may
see, an agent sees and dials only its assigned cases, a team's supervisor only its team's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import build_container
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from core.clock import FakeClock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from tests.support.doubles import RecordingPbx

MORNING_SHANGHAI = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
A_NUMBER, A_POOL_NUMBER, B_NUMBER = "+8613800138001", "+8613800138002", "+8613900139001"
#: who is who: (id, role, team, clients, phone)
PEOPLE = [
    ("alice", Role.AGENT, "a1", ["bank-a"], "1001"), ("andy", Role.AGENT, "a2", ["bank-a"], "1002"),
    ("bert", Role.AGENT, "b1", ["bank-b"], "1003"), ("sam", Role.SUPERVISOR, "a1", ["bank-a"], None),
    ("sue", Role.SUPERVISOR, "a2", ["bank-a"], None), ("mia", Role.MANAGER, None, ["bank-a"], None),
    ("quinn", Role.QA, None, ["bank-a"], None), ("casys-a", Role.INTEGRATION, None, ["bank-a"], None),
    ("casys-b", Role.INTEGRATION, None, ["bank-b"], None), ("ada", Role.ADMIN, None, [], None),
]


class Api:
    def __init__(self, client: TestClient[Any, Any], tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens
        self.cases: dict[str, str] = {}

    async def call(self, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
        r = await self.client.request(method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[user]}"})
        return r.status, await r.json() if r.content_type == "application/json" else None

    async def case(self, user: str, client: str, ext: str, number: str, **over: Any) -> str:
        body = {"debtor_name": "张三", "amount": "100", "currency": "CNY", "timezone": "Asia/Shanghai",
                "contacts": [{"number": number, "kind": "mobile"}], **over}
        status, doc = await self.call("PUT", f"/v1/clients/{client}/cases/{ext}", user, body)
        assert status in (200, 201), doc
        self.cases[ext] = doc["id"]
        return str(doc["id"])


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    settings = load_settings(None, compliance={"default_profile": "DEMO"})
    tokens = {}
    async with db.begin() as s:
        for uid, role, team, clients, sip in PEOPLE:
            await create_user(s, user_id=uid, role=role, team=team, clients=clients, sip_user=sip)
            tokens[uid] = await issue_token(s, user_id=uid)
    async with TaskGroup() as tasks:
        container = build_container(settings=settings, clock=FakeClock(MORNING_SHANGHAI), db=db, events=EventLog(),
                                    stream=EventStream(db), tasks=tasks, pbx=RecordingPbx())
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            a = Api(client, tokens)
            await a.case("casys-a", "bank-a", "A-1", A_NUMBER, agent="alice", team="a1")
            await a.case("casys-a", "bank-a", "A-POOL", A_POOL_NUMBER, team="a1")
            await a.case("casys-a", "bank-a", "A-2", "+8613800138003", agent="andy", team="a2")
            await a.case("casys-b", "bank-b", "B-1", B_NUMBER, agent="bert", team="b1")
            yield a
        finally:
            await client.close()


async def _ids(api: Api, user: str, query: str = "") -> set[str]:
    status, doc = await api.call("GET", f"/v1/cases{query}", user)
    assert status == 200, doc
    return {item["external_id"] for item in doc["items"]}


async def test_each_caller_lists_only_the_cases_it_may_see(api: Api) -> None:
    assert await _ids(api, "alice") == {"A-1"}
    assert await _ids(api, "alice", "?agent=me") == {"A-1"}
    assert await _ids(api, "sam") == {"A-1", "A-POOL"}
    assert await _ids(api, "sue") == {"A-2"}
    for user in ("mia", "quinn", "casys-a"):
        assert await _ids(api, user) == {"A-1", "A-POOL", "A-2"}, user
    assert await _ids(api, "casys-b") == {"B-1"}
    assert await _ids(api, "ada") == {"A-1", "A-POOL", "A-2", "B-1"}
    assert await _ids(api, "mia", "?client=bank-b") == set()  # asking for another bank shows nothing


async def test_another_banks_or_teams_or_agents_case_is_404_like_a_missing_one(api: Api) -> None:
    b1, a1, a2 = api.cases["B-1"], api.cases["A-1"], api.cases["A-2"]
    missing_status, missing = await api.call("GET", "/v1/cases/00000000-0000-0000-0000-000000000000", "mia")
    assert missing_status == 404
    for user in ("mia", "quinn", "casys-a", "sam", "alice"):
        for path in (f"/v1/cases/{b1}", "/v1/clients/bank-b/cases/B-1", f"/v1/cases/{b1}/windows"):
            status, doc = await api.call("GET", path, user)
            assert status == 404 and doc["error"]["code"] == missing["error"]["code"], (user, path, doc)
    assert (await api.call("GET", f"/v1/cases/{a2}", "alice"))[0] == 404  # not assigned to alice
    assert (await api.call("GET", f"/v1/cases/{a2}", "sam"))[0] == 404  # team a2, sam leads a1
    assert (await api.call("GET", f"/v1/cases/{a1}", "alice"))[0] == 200
    assert (await api.call("GET", f"/v1/cases/{b1}", "ada"))[0] == 200


async def test_writes_to_another_bank_change_nothing(api: Api) -> None:
    b1 = api.cases["B-1"]
    body = {"debtor_name": "李四", "amount": "1", "currency": "CNY", "contacts": []}
    status, doc = await api.call("PUT", "/v1/clients/bank-b/cases/B-1", "casys-a", body)
    assert status == 404 and doc["error"]["code"] == "no-such-client"
    status, _ = await api.call("POST", "/v1/clients/bank-b/cases/bulk", "casys-a", {"cases": [body]})
    assert status == 404
    assert (await api.call("POST", f"/v1/cases/{b1}/holds", "sam", {"reason": "dispute"}))[0] == 404
    assert (await api.call("POST", f"/v1/cases/{b1}/status", "casys-a", {"status": "closed"}))[0] == 404
    assert (await api.call("PUT", f"/v1/cases/{b1}/assignment", "casys-a", {"agent": "alice"}))[0] == 404
    status, doc = await api.call("GET", f"/v1/cases/{b1}", "casys-b")
    assert doc["debtor_name"] == "张三" and doc["status"] == "active" and doc["assigned_agent"] == "bert"
    # a team's supervisor assigns within the team only
    status, doc = await api.call("PUT", f"/v1/cases/{api.cases['A-1']}/assignment", "sam",
                                 {"agent": "andy", "team": "a2"})
    assert status == 403 and doc["error"]["code"] == "outside-team"


async def test_an_agent_dials_only_its_own_cases_and_sees_only_its_own_calls(api: Api) -> None:
    status, doc = await api.call("POST", "/v1/calls", "alice",
                                 {"agent": "alice", "number": "+8613800138003", "case_id": api.cases["A-2"]})
    assert status == 422 and doc["error"]["code"] == "no-such-case"  # andy's case: as if it did not exist
    status, doc = await api.call("POST", "/v1/calls", "alice",
                                 {"agent": "alice", "number": B_NUMBER, "case_id": api.cases["B-1"]})
    assert status == 422 and doc["error"]["code"] == "no-such-case"
    status, call = await api.call("POST", "/v1/calls", "alice",
                                  {"agent": "alice", "number": A_NUMBER, "case_id": api.cases["A-1"]})
    assert status == 202, call
    # bank B's integration may not dial as bank A's agent, nor see the call
    status, doc = await api.call("POST", "/v1/calls", "casys-b",
                                 {"agent": "alice", "number": B_NUMBER, "case_id": api.cases["B-1"]})
    assert status == 422 and doc["error"]["code"] == "no-such-agent", doc
    for user in ("casys-b", "bert", "sue", "andy"):
        assert (await api.call("GET", f"/v1/calls/{call['id']}", user))[0] == 404, user
        status, page = await api.call("GET", "/v1/calls", user)
        assert status == 200 and page["items"] == [], user
    for user in ("alice", "sam", "mia", "quinn", "casys-a", "ada"):
        status, page = await api.call("GET", "/v1/calls", user)
        assert [c["id"] for c in page["items"]] == [call["id"]], user
