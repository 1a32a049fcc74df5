"""A fresh database per test with every table created from the models: SQLite in a temp dir, and a database
of its own on the suite's PostgreSQL (so suites running side by side never share tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import db.metadata  # noqa: F401 - every table
from config.settings import DatabaseSettings
from db.base import Base
from db.engine import Database
from tests.support.pgdb import create_pg_database, drop_pg_database

BACKENDS = ["sqlite", "postgresql"]


async def open_database(url: str) -> Database:
    """Create every table on the empty database at ``url``."""
    database = Database(DatabaseSettings(url=url, migrate_on_start=False))
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
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
