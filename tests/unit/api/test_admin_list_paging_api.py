"""The admin lists that grow without bound page through every row: users (by id), a user's tokens (its console
sessions too, newest first) and webhook subscriptions (oldest first). Each page follows the previous one's
``next_cursor``; the order is stable, no row is listed twice or missed, a row added between two pages does not
disturb the others, and a cursor this API did not make is refused with the one error shape. On SQLite and
PostgreSQL, through the composed service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from auth.models import ApiToken, Role
from auth.service import create_user, issue_token
from hooks.models import Subscription
from tests.support.composed import Composed, composed

SAME = datetime(2026, 1, 1, tzinfo=UTC)  # rows made in one instant: the cursor orders them by id


@pytest.fixture
async def svc(database_url: str, tmp_path: Path) -> AsyncIterator[Composed]:
    async with composed(tmp_path, database_url) as c:
        async with c.container.db.begin() as s:
            await create_user(s, user_id="bank1-admin", role=Role.ADMIN, clients=["bank1"])
            c.tokens["bank1-admin"] = await issue_token(s, user_id="bank1-admin")
            for n in range(12):
                await create_user(s, user_id=f"u{n:02d}", role=Role.QA, clients=["bank1" if n % 3 else "bank2"])
        yield c


async def _get(c: Composed, path: str, user: str = "ada", **params: str) -> tuple[int, Any]:
    r = await c.client.get(path, headers=c.auth(user), params=params)
    return r.status, await r.json()


async def _pages(c: Composed, path: str, key: str, *, limit: int, user: str = "ada",
                 between: Any = None, **params: str) -> list[str]:
    """Every page's ``key`` values in order; ``between`` (if given) runs once after the first page."""
    seen: list[str] = []
    query = {**params, "limit": str(limit)}
    for n in range(100):
        status, doc = await _get(c, path, user, **query)
        assert status == 200, doc
        assert len(doc["items"]) <= limit
        seen += [i[key] for i in doc["items"]]
        if doc["next_cursor"] is None:
            return seen
        if n == 0 and between is not None:
            await between()
        query["cursor"] = doc["next_cursor"]
    raise AssertionError("the cursor never ends")


def _refused(status: int, doc: Any) -> None:
    """The one error shape: a machine code, the field named, messages in zh-CN and en."""
    assert status == 422, doc
    err = doc["error"]
    assert err["code"] == "validation-failed", doc
    assert [e["field"] for e in err["details"]["errors"]] == ["cursor"], doc
    assert err["message"], doc


async def _bad_cursors(c: Composed, path: str, *bad: str) -> None:
    for cursor in bad:
        for lang in ("zh-CN", "en"):
            r = await c.client.get(path, headers={**c.auth("ada"), "Accept-Language": lang},
                                   params={"cursor": cursor})
            doc = await r.json()
            _refused(r.status, doc)
            assert r.headers["Content-Language"].startswith(lang[:2]), (lang, r.headers)
            assert ("字段" in doc["error"]["message"]) is (lang == "zh-CN"), doc


async def test_users_page_by_id_through_filters_and_the_admins_walls(svc: Composed) -> None:
    status, whole = await _get(svc, "/v1/users", limit="1000")
    assert status == 200 and whole["next_cursor"] is None
    everyone = [u["id"] for u in whole["items"]]
    assert everyone == sorted(everyone) and len(everyone) == len(set(everyone)) >= 12 + 1
    for limit in (1, 2, 5):
        assert await _pages(svc, "/v1/users", "id", limit=limit) == everyone, limit
    # the default page is the first 100: today's whole list, with nothing more to fetch
    assert (await _get(svc, "/v1/users"))[1] == whole
    # the client filter and a bank's admin's walls are applied before the page is cut: full pages, none missed
    bank1 = [u["id"] for u in whole["items"] if "bank1" in u["clients"]]
    assert await _pages(svc, "/v1/users", "id", limit=3, client="bank1") == bank1
    own = await _pages(svc, "/v1/users", "id", limit=2, user="bank1-admin")
    assert own == [u["id"] for u in whole["items"] if u["clients"] and set(u["clients"]) <= {"bank1"}]
    assert "u00" not in own and "ada" not in own
    status, doc = await _get(svc, "/v1/users", "bank1-admin", limit="2", client="bank1")
    assert len(doc["items"]) == 2 and doc["next_cursor"] == doc["items"][-1]["id"]


async def test_a_user_made_between_two_pages_disturbs_no_other(svc: Composed) -> None:
    before = [u["id"] for u in (await _get(svc, "/v1/users", limit="1000"))[1]["items"]]

    async def add() -> None:
        for uid in ("a-first", "zz-last"):  # one before the cursor, one after it
            r = await svc.client.post("/v1/users", headers=svc.auth("ada"),
                                      json={"id": uid, "role": "qa", "clients": ["bank1"]})
            assert r.status == 201, await r.text()

    seen = await _pages(svc, "/v1/users", "id", limit=4, between=add)
    assert [u for u in seen if u not in ("a-first", "zz-last")] == before
    assert "a-first" not in seen and seen.count("zz-last") == 1 and seen[-1] == "zz-last"


async def test_a_bad_user_cursor_or_limit_is_refused(svc: Composed) -> None:
    await _bad_cursors(svc, "/v1/users", "a b", "-x", "x" * 65)
    status, doc = await _get(svc, "/v1/users", limit="0")
    assert status == 422 and doc["error"]["details"]["errors"][0]["field"] == "limit"


async def test_a_users_tokens_page_newest_first_and_a_new_session_disturbs_none(svc: Composed) -> None:
    async with svc.container.db.begin() as s:
        for n in range(7):
            await issue_token(s, user_id="u01", label=f"old-{n}")
    # tokens made in one instant too (sign-ins in a burst): the cursor orders them by id
    async with svc.container.db.begin() as s:
        for n in range(4):
            await issue_token(s, user_id="u01", label=f"same-{n}")
    async with svc.container.db.begin() as s:
        await s.execute(update(ApiToken).where(ApiToken.label.like("same-%")).values(created_at=SAME))
    path = "/v1/users/u01/tokens"
    status, whole = await _get(svc, path, limit="1000")
    assert status == 200 and whole["next_cursor"] is None and len(whole["items"]) == 11
    ids = [t["id"] for t in whole["items"]]
    created = [t["created_at"] for t in whole["items"]]
    assert created == sorted(created, reverse=True)
    for limit in (1, 3, 4):
        assert await _pages(svc, path, "id", limit=limit) == ids, limit

    async def sign_in() -> None:
        r = await svc.client.post(path, headers=svc.auth("ada"), json={"label": "new"})
        assert r.status == 201, await r.text()

    seen = await _pages(svc, path, "id", limit=3, between=sign_in)
    assert seen == ids  # the newest token is on a page already read: the rest follow unchanged
    assert len((await _get(svc, path, limit="1000"))[1]["items"]) == 12
    await _bad_cursors(svc, path, "x", "1_a b", "12345678901234567890_x")
    # another bank's user is not there for a bank's admin, with or without a cursor
    assert (await _get(svc, "/v1/users/u00/tokens", "bank1-admin"))[0] == 404
    assert (await _get(svc, "/v1/users/u00/tokens", "bank1-admin", cursor="0_x"))[0] == 404


async def test_subscriptions_page_oldest_first_within_the_callers_client(svc: Composed) -> None:
    async with svc.container.db.begin() as s:
        for n in range(9):
            s.add(Subscription(client_id="bank1" if n % 2 else None, url=f"https://cases.example.com/h/{n}",
                               description=f"s{n}", event_types=["*"], secrets=["x"], created_by="seed",
                               created_at=SAME if n >= 5 else SAME - timedelta(days=9 - n)))
        s.add(Subscription(client_id="bank1", url="https://cases.example.com/gone", event_types=["*"], secrets=[],
                           created_by="seed", created_at=SAME, deleted_at=SAME, deleted_by="seed"))
    path = "/v1/hooks/subscriptions"
    status, whole = await _get(svc, path, limit="1000")
    assert status == 200 and whole["next_cursor"] is None and len(whole["items"]) == 9
    ids = [x["id"] for x in whole["items"]]
    assert [x["description"] for x in whole["items"][:5]] == [f"s{n}" for n in range(5)]
    assert [x["id"] for x in whole["items"][5:]] == sorted(ids[5:])
    assert (await _get(svc, path))[1] == whole  # the default page holds them all
    for limit in (1, 2, 4):
        assert await _pages(svc, path, "id", limit=limit) == ids, limit
    own = await _pages(svc, path, "id", limit=2, user="bank1-admin")
    assert own == [x["id"] for x in whole["items"] if x["client"] == "bank1"] and len(own) == 4

    async def subscribe() -> None:
        async with svc.container.db.begin() as s:
            s.add(Subscription(client_id="bank1", url="https://cases.example.com/new", description="new",
                               event_types=["*"], secrets=["x"], created_by="seed",
                               created_at=SAME + timedelta(seconds=1)))

    seen = await _pages(svc, path, "description", limit=3, between=subscribe)
    assert seen == [x["description"] for x in whole["items"]] + ["new"]
    await _bad_cursors(svc, path, "zzz", "1_", "_x")
