"""The migration chain on both backends: up one revision at a time, down one at a time, up again.

Every downgrade must leave exactly the schema the upgrade to that revision left (no trigger, function or
index behind), so that the next upgrade runs again from a clean state.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import alembic_config

# (kind, name, definition) of every schema object but Alembic's own bookkeeping
SQLITE_OBJECTS = ("SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                  "WHERE name <> 'alembic_version' AND name NOT LIKE 'sqlite_autoindex_alembic%'")
PG_OBJECTS = (
    "SELECT 'column', table_name || '.' || column_name, concat_ws(' ', data_type, character_maximum_length, "
    "is_nullable, column_default) FROM information_schema.columns WHERE table_schema = current_schema() "
    "AND table_name <> 'alembic_version'",
    "SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
    "AND conrelid <> 'alembic_version'::regclass",
    "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
    "AND tablename <> 'alembic_version'",
    "SELECT 'trigger', tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT tgisinternal",
    "SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p "
    "WHERE pronamespace = current_schema()::regnamespace",
    "SELECT 'comment', c.relname, coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c "
    "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname <> 'alembic_version'",
)


def _objects(conn: Connection) -> set[tuple[Any, ...]]:
    if conn.dialect.name == "sqlite":
        # a table SQLite's batch mode copied back is stored with its name quoted, and its columns laid out anew
        # (an ADD COLUMN appends to the last line; a copy puts one column a line): same table, other spacing
        return {(kind, name, " ".join(sql.replace(f'"{name}"', name).split()))
                for kind, name, sql in conn.execute(text(SQLITE_OBJECTS))}
    return {tuple(row) for q in PG_OBJECTS for row in conn.execute(text(q))}


async def _run(db: Database, step: str, revision: str) -> set[tuple[Any, ...]]:
    """Upgrade or downgrade to ``revision`` in one transaction; the schema objects afterwards."""

    def go(conn: Connection) -> set[tuple[Any, ...]]:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        getattr(command, step)(cfg, revision)
        return _objects(conn)

    async with db.engine.begin() as conn:
        return await conn.run_sync(go)


async def test_up_down_up_one_revision_at_a_time(database_url: str) -> None:
    chain = [s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
    assert len(chain) >= 7
    async with Database(DatabaseSettings(url=database_url)) as db:
        assert await _run(db, "upgrade", "base") == set()
        after: dict[str, set[tuple[Any, ...]]] = {"base": set()}
        for rev in chain:
            after[rev] = await _run(db, "upgrade", rev)
        head = after[chain[-1]]
        assert {kind for kind, _, _ in head} >= ({"table", "index", "trigger"} if db.is_sqlite
                                                 else {"column", "index", "trigger", "function", "comment"})
        for rev in [*chain[-2::-1], "base"]:
            assert await _run(db, "downgrade", rev) == after[rev], f"downgrade to {rev}"
        assert await _run(db, "upgrade", "head") == head
