"""A fresh database per test: SQLite in a temp dir, and PostgreSQL too when CALLGUARD_TEST_PG_URL is set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import db.metadata  # noqa: F401 - every table
from config.settings import DatabaseSettings
from db.base import Base
from db.engine import Database

PG_URL = os.environ.get("CALLGUARD_TEST_PG_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def open_database(backend: str, tmp_path: Path) -> Database:
    """Create every table on a clean database of ``backend``."""
    url = f"sqlite+aiosqlite:///{tmp_path}/test.db" if backend == "sqlite" else str(PG_URL)
    database = Database(DatabaseSettings(url=url, migrate_on_start=False))
    async with database.engine.begin() as conn:
        if backend != "sqlite":
            await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    return database


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The database under test (parametrised over the available backends)."""
    d = await open_database(request.param, tmp_path)
    async with d:
        yield d
