"""The audit trail: append-only in the database itself, filtered and paginated reads, a streamed export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from audit.schemas import AuditQuery
from audit.service import Actor, AuditService
from config.settings import DatabaseSettings
from core.clock import FakeClock
from db.engine import Database
from db.migrate import migrate
from tests.support import pgdb

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADA = Actor("ada", "admin", address="10.0.0.1", request_id="r-1")


async def _seed(db: Database, clock: FakeClock) -> AuditService:
    audit = AuditService(db=db, clock=clock)
    async with db.begin() as s:
        for i, (action, client) in enumerate([("user.created", "bank1"), ("token.issued", "bank1"),
                                              ("token.revoked", "bank2"), ("user.updated", None)]):
            await audit.record(s, actor=ADA if i % 2 == 0 else Actor("root", "admin"), action=action,
                               target_type=action.split(".")[0], target_id=f"t{i}", client_id=client,
                               reason=f"because {i}", before={"n": i}, after={"n": i + 1})
            clock.advance(minutes=1)
    return audit


async def test_the_table_refuses_update_and_delete(db: Database) -> None:
    await _seed(db, FakeClock(T0))
    for stmt in ("UPDATE audit_log SET reason = 'rewritten'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin() as s:
                await s.execute(text(stmt))
    async with db.read() as s:
        assert await s.scalar(text("SELECT count(*) FROM audit_log WHERE reason LIKE 'because%'")) == 4


async def test_postgresql_also_refuses_truncate() -> None:
    url, name = await pgdb.create_pg_database()
    try:
        async with Database(DatabaseSettings(url=url)) as db:
            await migrate(db)
            await _seed(db, FakeClock(T0))
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.begin() as s:
                    await s.execute(text("TRUNCATE audit_log"))
            async with db.read() as s:
                assert await s.scalar(text("SELECT count(*) FROM audit_log")) == 4
    finally:
        await pgdb.drop_pg_database(name)


async def test_a_rolled_back_change_leaves_no_entry(db: Database) -> None:
    audit = AuditService(db=db, clock=FakeClock(T0))
    with pytest.raises(RuntimeError):
        async with db.begin() as s:
            await audit.record(s, actor=ADA, action="user.created", target_type="user", target_id="x")
            raise RuntimeError("the change failed")
    assert (await audit.page(AuditQuery(), clients=None)).items == []


async def test_pages_filter_and_follow_the_cursor(db: Database) -> None:
    audit = await _seed(db, FakeClock(T0))
    page = await audit.page(AuditQuery(), clients=None)
    assert [e.action for e in page.items] == ["user.updated", "token.revoked", "token.issued", "user.created"]
    first = page.items[-1]
    assert (first.actor_id, first.actor_role, first.client_id, first.reason, first.before, first.after,
            first.address, first.request_id) == ("ada", "admin", "bank1", "because 0", {"n": 0}, {"n": 1},
                                                 "10.0.0.1", "r-1")
    q = AuditQuery.model_validate({"action": "token.*"})
    assert [e.action for e in (await audit.page(q, clients=None)).items] == ["token.revoked", "token.issued"]
    assert [e.target_id for e in (await audit.page(AuditQuery(actor="root"), clients=None)).items] == ["t3", "t1"]
    assert [e.client_id for e in (await audit.page(AuditQuery(), clients=frozenset({"bank2"}))).items] == ["bank2"]
    q = AuditQuery.model_validate({"from": (T0 + timedelta(minutes=1)).isoformat(),
                                   "to": (T0 + timedelta(minutes=3)).isoformat()})
    assert [e.target_id for e in (await audit.page(q, clients=None)).items] == ["t2", "t1"]
    seen, cursor = [], None
    while True:
        p = await audit.page(AuditQuery(limit=3, cursor=cursor), clients=None)
        seen += [e.target_id for e in p.items]
        if p.next_cursor is None:
            break
        cursor = p.next_cursor
    assert seen == ["t3", "t2", "t1", "t0"]


async def test_the_export_streams_every_match_as_ndjson(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    audit = await _seed(db, FakeClock(T0))
    monkeypatch.setattr("audit.service.EXPORT_BATCH", 3)  # more entries than one batch
    chunks = [c async for c in audit.export(AuditQuery(), clients=None)]
    assert len(chunks) == 2
    lines = b"".join(chunks).decode().splitlines()
    assert [json.loads(line)["target_id"] for line in lines] == ["t3", "t2", "t1", "t0"]
    only = [c async for c in audit.export(AuditQuery(action="user.created"), clients=frozenset({"bank1"}))]
    assert [json.loads(line)["action"] for line in b"".join(only).decode().splitlines()] == ["user.created"]
