"""The append-only tables refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE; the service's role is no superuser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from compliance.models import ComplianceDecision
from config.settings import DatabaseSettings
from core.models import DomainEventRow
from db.base import Base, new_id
from db.engine import Database
from db.migrate import migrate
from recordings.models import RecordingAccess
from tests.support import pgdb

ROWS: dict[str, Any] = {
    "compliance_decisions": lambda: ComplianceDecision(
        id=new_id(), kind="dial", actor="alice", actor_role="agent", number="+8613800000001", allowed=False,
        code="outside-calling-hours", rule_ids=["calling-hours"], zones=[], policy_id="CN", message="m",
        details={}),
    "recording_access": lambda: RecordingAccess(user_id="quinn", role="qa", recording_id="r1", action="audio",
                                                result="granted"),
    "domain_events": lambda: DomainEventRow(event_id=new_id(), type="call.requested", payload={}),
}
#: a column of each table an UPDATE may try to change
COLUMN = {"compliance_decisions": "message", "recording_access": "detail", "domain_events": "type"}


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """A migrated PostgreSQL database (TRUNCATE and roles exist only there)."""
    url, name = await pgdb.create_pg_database()
    try:
        async with Database(DatabaseSettings(url=url)) as database:
            await migrate(database)
            yield database
    finally:
        await pgdb.drop_pg_database(name)


async def _count(db: Database, table: str) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Base.metadata.tables[table]))).scalar_one())


@pytest.mark.parametrize("table", sorted(ROWS))
async def test_append_only_tables_refuse_update_delete_and_truncate(db: Database, table: str) -> None:
    async with db.begin() as s:
        s.add(ROWS[table]())
    statements = [f"UPDATE {table} SET {COLUMN[table]} = 'changed'", f"DELETE FROM {table}"]  # noqa: S608
    if db.engine.dialect.name == "postgresql":
        statements.append(f"TRUNCATE {table}")
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            async with db.begin() as s:
                await s.execute(text(statement))
    assert await _count(db, table) == 1
    async with db.begin() as s:  # appending is still fine
        s.add(ROWS[table]())
    assert await _count(db, table) == 2


async def test_truncate_is_refused_even_on_an_empty_log(pg_db: Database) -> None:
    for table in sorted(ROWS):
        with pytest.raises(Exception, match=f"{table} is append-only"):
            async with pg_db.begin() as s:
                await s.execute(text(f"TRUNCATE {table} CASCADE"))


async def test_the_services_database_role_is_not_a_superuser(pg_db: Database) -> None:
    """A superuser ignores privileges (and could drop the triggers); tests must not hide that."""
    async with pg_db.read() as s:
        row = (await s.execute(text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))).one()
    assert tuple(row) == (False, False), f"the test role {row} must be NOSUPERUSER (see scripts/pg-up)"
