"""Several instances starting at once over one PostgreSQL database migrate it once, without an error: each is
its own process (`callguard migrate`, as each instance runs at start-up), all started together. A role that
never migrates waits for the schema."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import migrate, schema_at_head, schema_revision, wait_for_schema
from tests.support import pgdb

INSTANCES = 3


async def test_instances_migrate_one_empty_database_at_once() -> None:
    url, name = await pgdb.create_pg_database()
    try:
        env = {**os.environ, "CALLGUARD__DATABASE__URL": url}
        procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "migrate", env=env,
                                                      stdout=asyncio.subprocess.PIPE,
                                                      stderr=asyncio.subprocess.STDOUT)
                 for _ in range(INSTANCES)]
        outs = [(await p.communicate())[0].decode(errors="replace") for p in procs]
        assert [p.returncode for p in procs] == [0] * INSTANCES, "\n---\n".join(outs)
        async with Database(DatabaseSettings(url=url)) as db, db.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            calls = (await conn.execute(text("SELECT count(*) FROM calls"))).scalar_one()
        assert len(versions) == 1 and calls == 0
    finally:
        await pgdb.drop_pg_database(name)


async def test_a_role_that_does_not_migrate_waits_for_the_schema(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The ingest role (no DDL) may start on its host before any instance has migrated: it waits, saying for
    which revision, then runs."""
    caplog.set_level(logging.INFO, logger="db.migrate")
    async with Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")) as db:
        assert not await schema_at_head(db)
        waiter = asyncio.create_task(wait_for_schema(db, interval_s=0.01))
        await asyncio.sleep(0.1)
        assert not waiter.done()  # an empty database: still waiting
        head = (await schema_revision(db))[1]
        assert head and f"revision {head} (it is at none)" in caplog.text
        await migrate(db)  # the service's instance migrates
        await asyncio.wait_for(waiter, 5)
        assert await schema_at_head(db)
