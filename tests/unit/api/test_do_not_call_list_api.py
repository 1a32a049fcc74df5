"""The do-not-call list read through the API: a bank's people see their bank's entries and those binding every
bank, never another bank's; ``?number=`` finds the exact entry and the prefixes that stop a number. On SQLite and
PostgreSQL, through the composed service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auth.models import Role
from auth.service import create_user, issue_token
from compliance.models import DoNotCall
from tests.support.composed import Composed, composed

ENTRIES = [("+8613800000001", "exact", "bank1"), ("+86138", "prefix", "bank1"), ("+8613800000001", "exact", "bank2"),
           ("+8613900000009", "exact", "*")]


@pytest.fixture
async def svc(database_url: str, tmp_path: Path) -> AsyncIterator[Composed]:
    async with composed(tmp_path, database_url) as c:
        async with c.container.db.begin() as s:
            await create_user(s, user_id="bank1-admin", role=Role.ADMIN, clients=["bank1"])
            c.tokens["bank1-admin"] = await issue_token(s, user_id="bank1-admin")
        for value, kind, client in ENTRIES:
            r = await c.client.post("/v1/compliance/do-not-call", headers=c.auth("ada"),
                                    json={"value": value, "kind": kind, "client": client, "reason": f"for {client}"})
            assert r.status == 201, await r.text()
        yield c


async def _list(c: Composed, user: str, **params: str) -> tuple[int, Any]:
    r = await c.client.get("/v1/compliance/do-not-call", headers=c.auth(user), params=params)
    return r.status, await r.json()


def _keys(doc: Any) -> set[tuple[str, str, str]]:
    return {(i["value"], i["kind"], i["client"]) for i in doc["items"]}


async def test_a_banks_people_see_its_entries_and_everyones_never_another_banks(svc: Composed) -> None:
    for user in ("bank1-admin", "sam", "mia"):
        status, doc = await _list(svc, user)
        assert status == 200, doc
        assert _keys(doc) == {ENTRIES[0], ENTRIES[1], ENTRIES[3]}, user
        assert "bank2" not in str(doc)
    status, doc = await _list(svc, "bank1-admin", client="bank2")
    assert status == 200 and doc["items"] == []
    status, doc = await _list(svc, "ada")
    assert _keys(doc) == set(ENTRIES)
    # the agents, QA and the case system do not read the list
    for user in ("alice", "quinn", "casesys"):
        assert (await _list(svc, user))[0] == 403


async def test_a_number_finds_its_exact_entry_and_its_prefixes(svc: Composed) -> None:
    status, doc = await _list(svc, "bank1-admin", number="+8613800000001")
    assert status == 200 and _keys(doc) == {ENTRIES[0], ENTRIES[1]}, doc
    status, doc = await _list(svc, "ada", number="+8613800000001", client="bank2")
    assert _keys(doc) == {ENTRIES[2]}
    status, doc = await _list(svc, "ada", number="+8613900000009")
    assert _keys(doc) == {ENTRIES[3]}
    status, doc = await _list(svc, "ada", limit="1")
    assert len(doc["items"]) == 1


async def test_a_bad_filter_is_refused_with_the_field_named(svc: Composed) -> None:
    for params in ({"number": "138%"}, {"client": "a b"}, {"limit": "0"}):
        status, doc = await _list(svc, "ada", **params)
        assert status == 422 and doc["error"]["code"] == "validation-failed", (params, doc)
        assert doc["error"]["details"]["fields"] == list(params), doc


async def _pages(c: Composed, user: str, limit: int) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    params = {"limit": str(limit)}
    for _ in range(20):
        status, doc = await _list(c, user, **params)
        assert status == 200, doc
        seen += [(i["value"], i["kind"], i["client"]) for i in doc["items"]]
        if doc["next_cursor"] is None:
            return seen
        params["cursor"] = doc["next_cursor"]
    raise AssertionError("the cursor never ends")


async def test_pages_list_every_entry_once_newest_first_within_the_wall(svc: Composed) -> None:
    same = datetime(2026, 1, 1, tzinfo=UTC)  # entries added in one instant: the cursor orders them by their key
    async with svc.container.db.begin() as s:
        for value, client in (("+8613700000003", "bank1"), ("+8613700000001", "bank1"), ("+8613700000002", "")):
            s.add(DoNotCall(value=value, kind="exact", client_id=client, reason="bulk", added_by="seed",
                            added_at=same))
    whole = (await _list(svc, "ada", limit="1000"))[1]
    everything = [(i["value"], i["kind"], i["client"]) for i in whole["items"]]
    assert len(everything) == 7 and whole["next_cursor"] is None
    for limit in (1, 2, 3):
        assert await _pages(svc, "ada", limit) == everything, limit
    mine = await _pages(svc, "bank1-admin", 2)
    assert len(mine) == 6 and all(client != "bank2" for _, _, client in mine)
    assert [v for v, _, _ in mine[-3:]] == ["+8613700000001", "+8613700000002", "+8613700000003"]
    # a cursor this API did not make is refused, and changes nothing
    for bad in ("1_exact_+86_bank1; DROP", "x", "1_other_+8613_bank1"):
        status, doc = await _list(svc, "ada", cursor=bad)
        assert status == 422 and doc["error"]["code"], doc
