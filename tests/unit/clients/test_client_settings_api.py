"""Client settings through the composed service, on SQLite and PostgreSQL: pooling turns on an agent's view of its
team's unassigned cases of that client only (never another team's, never another bank's), and every setting is
validated, audited and walled like the rest of a client's objects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from auth.models import Role
from auth.service import create_user, issue_token
from tests.support.composed import Composed, composed

NUMBER = "+8613800138001"


class World:
    def __init__(self, c: Composed) -> None:
        self.c = c

    async def req(self, method: str, path: str, user: str, body: Any = None, status: int = 200) -> Any:
        r = await self.c.client.request(method, path, json=body, headers=self.c.auth(user))
        text = await r.text()
        assert r.status == status, text
        return await r.json()

    async def case(self, external_id: str, *, client: str = "bank1", user: str = "casesys", team: str = "t1",
                   agent: str | None = None) -> str:
        doc = await self.req("PUT", f"/v1/clients/{client}/cases/{external_id}", user, {
            "debtor_name": "D", "amount": "1000", "currency": "CNY", "timezone": "Asia/Shanghai", "agent": agent,
            "team": team, "contacts": [{"number": NUMBER, "kind": "mobile"}]}, status=201)
        return str(doc["id"])

    async def listed(self, user: str = "alice") -> set[str]:
        return {c["id"] for c in (await self.req("GET", "/v1/cases?limit=500", user))["items"]}

    async def settings_audit(self) -> list[tuple[str | None, Any, Any]]:
        async with self.c.container.db.read() as s:
            rows = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "client_settings.changed")
                                    .order_by(AuditEntry.at))).all()
        return [(r.client_id, r.before, r.after) for r in rows]


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with composed(tmp_path, database_url, compliance={"default_profile": "DEMO"}) as c:
        async with c.container.db.begin() as s:
            for uid, role in (("int2", Role.INTEGRATION), ("admin2", Role.ADMIN)):
                await create_user(s, user_id=uid, role=role, clients=("bank2",))
                c.tokens[uid] = await issue_token(s, user_id=uid)
        yield World(c)


async def test_agents_see_their_team_s_unassigned_cases_only_where_their_client_pools(world: World) -> None:
    own = await world.case("MINE", agent="alice")
    pooled = await world.case("POOL")  # team t1, no agent
    other_team = await world.case("T2", team="t2")
    other_bank = await world.case("B2", client="bank2", user="int2")  # team t1 too, of bank2
    assert await world.listed() == {own}
    await world.req("GET", f"/v1/cases/{pooled}", "alice", status=404)
    check = {"agent": "alice", "number": NUMBER, "case_id": pooled}
    assert (await world.req("POST", "/v1/compliance/check", "alice", check, status=422))["error"]["code"] == \
        "no-such-case"
    await world.req("GET", f"/v1/cases/{pooled}/payments", "alice", status=404)

    for client, admin in (("bank1", "ada"), ("bank2", "admin2")):
        doc = await world.req("PUT", f"/v1/clients/{client}/settings", admin, {"pooling": True, "reason": "pool"})
        assert (doc["client_id"], doc["pooling"], doc["updated_by"]) == (client, True, admin)

    assert await world.listed() == {own, pooled}  # never t2's, never bank2's (its pooling is its own)
    assert (await world.req("GET", f"/v1/cases/{pooled}", "alice"))["id"] == pooled
    for case_id in (other_team, other_bank):
        await world.req("GET", f"/v1/cases/{case_id}", "alice", status=404)
    decision = await world.req("POST", "/v1/compliance/check", "alice", check)
    assert "allowed" in decision
    assert (await world.req("GET", f"/v1/cases/{pooled}/payments", "alice"))["case_id"] == pooled

    await world.req("PUT", "/v1/clients/bank1/settings", "ada", {"pooling": False})
    assert await world.listed() == {own}


async def test_settings_are_validated_audited_and_walled(world: World) -> None:
    fresh = await world.req("GET", "/v1/clients/bank1/settings", "mia")
    assert fresh == {"client_id": "bank1", "pooling": False, "promise_grace_days": 3,
                     "callback_team_grace_minutes": 60, "promise_tolerance_percent": "0.00", "updated_at": None,
                     "updated_by": None}
    for bad in ({"pooling": "yes"}, {"promise_grace_days": -1}, {"promise_grace_days": True},
                {"callback_team_grace_minutes": 0}, {"promise_tolerance_percent": "100.01"},
                {"promise_tolerance_percent": 2.5}, {"promise_tolerance_percent": "1.234"}, {"unknown": 1}):
        err = await world.req("PUT", "/v1/clients/bank1/settings", "ada", bad, status=422)
        assert err["error"]["code"] == "validation-failed" and err["error"]["messages"]["zh-CN"]
    assert await world.settings_audit() == []
    await world.req("PUT", "/v1/clients/bank1/settings", "sam", {"pooling": True}, status=403)
    await world.req("PUT", "/v1/clients/bank1/settings", "admin2", {"pooling": True}, status=404)
    await world.req("GET", "/v1/clients/bank1/settings", "admin2", status=404)
    await world.req("GET", "/v1/clients/bank2/settings", "mia", status=404)

    body = {"pooling": True, "promise_grace_days": 0, "callback_team_grace_minutes": 15,
            "promise_tolerance_percent": "2.5", "reason": "new terms"}
    await world.req("PUT", "/v1/clients/bank1/settings", "ada", body)
    await world.req("PUT", "/v1/clients/bank1/settings", "ada", body)  # the same again: nothing recorded
    after = {"pooling": True, "promise_grace_days": 0, "callback_team_grace_minutes": 15,
             "promise_tolerance_percent": "2.50"}
    assert await world.settings_audit() == [("bank1", None, after)]
    assert {k: v for k, v in (await world.req("GET", "/v1/clients/bank1/settings", "sam")).items()
            if k in after} == after
