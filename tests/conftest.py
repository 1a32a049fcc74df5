"""Shared fixtures: databases (SQLite and PostgreSQL), settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import migrate

PG_URL_ENV = "CALLGUARD_TEST_PG_URL"


def pg_admin_url() -> str:
    """The PostgreSQL server the suite uses; `make test` starts it and sets the variable."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.fail(f"{PG_URL_ENV} is not set: run the suite through `make test`, which starts PostgreSQL "
                    f"(or set {PG_URL_ENV}=postgresql+asyncpg://user@host/db yourself)")
    return url


async def _create_pg_database() -> tuple[str, str]:
    admin = pg_admin_url()
    name = f"cgtest_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name, name


async def _drop_pg_database(name: str) -> None:
    engine = create_async_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    url, name = await _create_pg_database()
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend."""
    async with Database(DatabaseSettings(url=database_url)) as database:
        await migrate(database)
        yield database


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database only (for tests whose subject is not the backend)."""
    async with Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")) as database:
        await migrate(database)
        yield database
