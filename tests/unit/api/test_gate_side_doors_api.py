"""Through the HTTP API with the real gate and case directory, on SQLite and PostgreSQL: a held case's number
dialled without case_id, a closed case, an agent's window without evidence are each refused with 409 and a
rule id or code; a number of no case is 403 for an agent; a window with evidence shows in the decision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
from dialer.models import Call
from recordings.models import Recording
from tests.support.doubles import RecordingPbx

EVENING_SHANGHAI = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 22:00 in Shanghai
MOBILE, STRANGER = "+8613800138000", "+8613700137000"


class Api:
    def __init__(self, client: TestClient[Any, Any], clock: FakeClock, db: Database, tokens: dict[str, str]) -> None:
        self.client, self.clock, self.db, self.tokens = client, clock, db, tokens

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def post(self, path: str, user: str, body: dict[str, Any], method: str = "POST") -> tuple[int, Any]:
        r = await self.client.request(method, path, json=body, headers=self.auth(user))
        return r.status, await r.json()

    async def case(self, ext: str = "C-1", **over: Any) -> str:
        body = {"debtor_name": "张三", "amount": "100", "currency": "CNY", "timezone": "Asia/Shanghai",
                "agent": "alice", "contacts": [{"number": MOBILE, "kind": "mobile"}], **over}
        status, doc = await self.post(f"/v1/clients/bank1/cases/{ext}", "casesys", body, method="PUT")
        assert status in (200, 201), doc
        return str(doc["id"])


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    settings = load_settings(None, compliance={"default_profile": "CN"})
    clock, events = FakeClock(EVENING_SHANGHAI - timedelta(hours=4)), EventLog()  # 18:00 in Shanghai
    tokens = {}
    async with db.begin() as s:
        for uid, role, sip in [("alice", Role.AGENT, "1001"), ("sam", Role.SUPERVISOR, None),
                               ("casesys", Role.INTEGRATION, None)]:
            await create_user(s, user_id=uid, role=role, sip_user=sip, team="t1", clients=["bank1"])
            tokens[uid] = await issue_token(s, user_id=uid)
    async with TaskGroup() as tasks:
        container = build_container(settings=settings, clock=clock, db=db, events=events, stream=EventStream(db),
                                    tasks=tasks, pbx=RecordingPbx())  # the real gate and case directory
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Api(client, clock, db, tokens)
        finally:
            await client.close()


async def test_dialling_a_held_cases_number_without_case_id_is_409_with_the_rule(api: Api) -> None:
    cid = await api.case()
    status, doc = await api.post(f"/v1/cases/{cid}/holds", "casesys", {"reason": "bankruptcy"})
    assert status == 201, doc
    status, doc = await api.post("/v1/calls", "alice", {"agent": "alice", "number": MOBILE})
    assert status == 409 and doc["error"]["code"] == "case-on-hold"
    assert doc["error"]["details"]["rule_ids"] == ["hold:bankruptcy"] and cid in doc["error"]["message"]
    # the rule's explanation in both languages: zh-CN (the default) worded from the block's facts
    assert doc["error"]["message"] == doc["error"]["messages"]["zh-CN"]
    assert f"案件 {cid} 因债务人已进入破产程序暂停催收" in doc["error"]["message"]
    assert f"Case {cid} is on hold because the debtor is in bankruptcy" in doc["error"]["messages"]["en"]
    # the decision log explains it the same way, in both languages
    r = await api.client.get(f"/v1/compliance/decisions/{doc['error']['details']['decision_id']}",
                             headers=api.auth("sam"))
    assert r.status == 200
    assert (await r.json())["messages"] == doc["error"]["messages"]


async def test_dialling_a_closed_case_is_409(api: Api) -> None:
    cid = await api.case()
    status, doc = await api.post(f"/v1/cases/{cid}/status", "casesys", {"status": "closed"})
    assert status == 200 and doc["status"] == "closed"
    for body in ({"case_id": cid}, {}):
        status, doc = await api.post("/v1/calls", "alice", {"agent": "alice", "number": MOBILE, **body})
        assert status == 409 and doc["error"]["code"] == "case-closed"
        assert doc["error"]["details"]["rule_ids"] == ["case-closed"]


async def test_an_agent_may_not_dial_a_number_of_no_case(api: Api) -> None:
    status, doc = await api.post("/v1/calls", "alice", {"agent": "alice", "number": STRANGER})
    assert status == 403 and doc["error"]["code"] == "manual-dial-not-allowed"
    status, doc = await api.post("/v1/compliance/check", "sam", {"agent": "alice", "number": STRANGER})
    assert status == 200 and doc["allowed"] is True
    status, doc = await api.post("/v1/calls", "sam", {"agent": "alice", "number": STRANGER})
    assert status == 202, doc


async def test_an_agents_window_needs_evidence_and_then_shows_in_the_decision(api: Api) -> None:
    cid = await api.case()
    window = {"scope": "case", "weekdays": [0], "start": "21:00", "end": "23:00", "zone": "Asia/Shanghai"}
    status, doc = await api.post(f"/v1/cases/{cid}/windows", "alice", window)
    assert status == 409 and doc["error"]["code"] == "window-evidence-required"
    status, doc = await api.post("/v1/calls", "alice", {"agent": "alice", "number": MOBILE, "case_id": cid})
    assert status == 202, doc
    call_id = doc["id"]
    ended = api.clock.now() + timedelta(minutes=5)
    async with api.db.begin() as s:  # the PBX's part: answered, recorded, ended
        call = await s.get(Call, call_id)
        assert call is not None
        call.answered_at, call.ended_at, call.state = api.clock.now() + timedelta(seconds=10), ended, "ended"
        s.add(Recording(id="rec-1", call_id=call_id, state="pending"))
    api.clock.set(ended + timedelta(minutes=5))
    status, doc = await api.post(f"/v1/cases/{cid}/windows", "alice", {**window, "agreed_on_call_id": call_id})
    assert status == 201 and doc["evidence"] == "call" and doc["agreed_on_call_id"] == call_id, doc
    api.clock.set(EVENING_SHANGHAI)
    status, doc = await api.post("/v1/compliance/check", "alice", {"agent": "alice", "number": MOBILE, "case_id": cid})
    assert status == 200 and doc["allowed"] is True
    assert f"agreed on call {call_id}" in doc["message"]
    assert doc["messages"]["en"] == doc["message"]
    assert "在客户同意的时段内" in doc["messages"]["zh-CN"] and "Asia/Shanghai 当地时间" in doc["messages"]["zh-CN"]
    assert [(w["evidence"], w["agreed_on_call_id"]) for w in doc["agreed_windows"]] == [("call", call_id)]
