"""Several instances starting at once over one PostgreSQL database migrate it once, without an error: each is
its own process (`callguard migrate`, as each instance runs at start-up), all started together."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text

from config.settings import DatabaseSettings
from db.engine import Database
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
