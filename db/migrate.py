"""Apply Alembic migrations at start-up (and from the CLI)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from db.engine import Database

MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock key held while migrating ("callguard-migrate" in ASCII, fits a bigint)
MIGRATE_LOCK_KEY = 0x63676D6967726174

log = logging.getLogger(__name__)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def migrate(db: Database) -> None:
    """Upgrade the database to the newest revision, in one transaction; on PostgreSQL under an advisory lock, so
    instances starting together over one database migrate it once (SQLite is one process's embedded store)."""

    def upgrade(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            # several instances may start at once over one database: one migrates, the others wait here and
            # then find the schema at head (the lock ends with the transaction, after the DDL is committed)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(upgrade)


async def schema_revision(db: Database) -> tuple[str | None, str | None]:
    """The database's schema revision (None: never migrated) and this release's newest."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    def current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(current), head


async def schema_at_head(db: Database) -> bool:
    """Whether the database's schema is this release's newest revision."""
    current, head = await schema_revision(db)
    return current == head


async def wait_for_schema(db: Database, *, interval_s: float = 1.0, log_every_s: float = 30.0) -> None:
    """Wait until the schema is at head, for a role that must not migrate (the service does): it may start
    first on its own host, before any service instance has migrated the shared database. A database at another
    release's revision is waited on too (saying both), never written with this release's model."""
    said = 0.0
    while True:
        current, head = await schema_revision(db)
        if current == head:
            return
        now = time.monotonic()
        if now - said >= log_every_s:
            log.info("waiting for the database schema to reach this release's revision %s (it is at %s): the "
                     "service migrates it", head, current or "none")
            said = now
        await asyncio.sleep(interval_s)
