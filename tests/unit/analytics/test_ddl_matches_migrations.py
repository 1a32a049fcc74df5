"""analytics/ddl.py (today's triggers) and the frozen migrations install the same dirty-marking triggers.

A change to the triggers needs a new migration: this test fails until one brings the migrated schema along.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from analytics.ddl import install
from config.settings import DatabaseSettings
from db.engine import Database
from db.metadata import target_metadata
from db.migrate import migrate
from tests.support import pgdb

SQLITE = ("SELECT name, sql FROM sqlite_master "
          "WHERE type = 'trigger' AND tbl_name = 'calls' AND name LIKE 'calls_rollup%'")
PG = ("SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
      "WHERE NOT tgisinternal AND tgname LIKE 'calls_rollup%' "
      "UNION ALL SELECT proname, pg_get_functiondef(oid) FROM pg_proc "
      "WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'callguard_rollup%'")


def _triggers(conn: Connection) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in conn.execute(text(SQLITE if conn.dialect.name == "sqlite" else PG))}


@pytest.fixture
async def second_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Another empty database on the same backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'second.db'}"
        return
    url, name = await pgdb.create_pg_database()
    try:
        yield url
    finally:
        await pgdb.drop_pg_database(name)


async def test_ddl_installs_the_migrated_triggers(database_url: str, second_url: str) -> None:
    async with Database(DatabaseSettings(url=database_url)) as migrated:
        await migrate(migrated)
        async with migrated.engine.connect() as conn:
            want = await conn.run_sync(_triggers)
    async with Database(DatabaseSettings(url=second_url)) as fresh:
        async with fresh.engine.begin() as conn:
            await conn.run_sync(target_metadata.create_all)
        await install(fresh)
        async with fresh.engine.connect() as conn:
            got = await conn.run_sync(_triggers)
    assert len(want) == 3  # SQLite: insert, update, delete triggers; PostgreSQL: one trigger, two functions
    assert got == want
