"""A fresh database per test, migrated as production migrates it: SQLite in a temp dir, and a database
of its own on the suite's PostgreSQL (so suites running side by side never share tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import migrate
from tests.support.pgdb import create_pg_database, drop_pg_database

BACKENDS = ["sqlite", "postgresql"]


async def open_database(url: str) -> Database:
    """Run the migrations on the empty database at ``url`` (the tables the service itself would have)."""
    database = Database(DatabaseSettings(url=url, migrate_on_start=False))
    await migrate(database)
    return database


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The database under test (parametrised over both backends)."""
    if request.param == "sqlite":
        d = await open_database(f"sqlite+aiosqlite:///{tmp_path}/test.db")
        async with d:
            yield d
        return
    url, name = await create_pg_database()
    try:
        d = await open_database(url)
        async with d:
            yield d
    finally:
        await drop_pg_database(name)
