"""Shared fixtures: databases (SQLite and PostgreSQL), settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import DatabaseSettings
from core.events import EventLog
from db.engine import Database
from db.migrate import migrate
from tests.support import event_contract, pgdb


@pytest.fixture(autouse=True)
def event_contract_checked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event a test records validates against its type's data model (``tests.support.event_contract``)."""
    if request.node.get_closest_marker("fake_events") is not None:
        return
    monkeypatch.setattr(EventLog, "record", event_contract.checking_record(EventLog.record))
    for module in event_contract.SESSION_RECORDERS:
        monkeypatch.setattr(module, "record_session_event",
                            event_contract.checking_session_record(module.record_session_event))


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    url, name = await pgdb.create_pg_database()
    try:
        yield url
    finally:
        await pgdb.drop_pg_database(name)


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
