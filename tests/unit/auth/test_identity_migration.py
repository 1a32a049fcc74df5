"""Upgrading keeps existing users and tokens working: tokens get the people's 90 days from the upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Connection, text

from auth.service import authenticate, hash_token
from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import alembic_config


async def _to(db: Database, revision: str) -> None:
    def go(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(go)


async def test_existing_tokens_survive_the_upgrade_with_an_expiry(database_url: str) -> None:
    async with Database(DatabaseSettings(url=database_url)) as db:
        await _to(db, "c0a1e5ce0004")
        async with db.begin() as s:
            await s.execute(text("INSERT INTO users (id, display_name, role, active, created_at) "
                                 "VALUES ('old', 'Old', 'manager', :t, :now)"), {"t": True, "now": datetime.now(UTC)})
            await s.execute(text("INSERT INTO api_tokens (id, user_id, token_hash, label, created_at) "
                                 "VALUES ('t1', 'old', :h, '', :now)"),
                            {"h": hash_token("cg_old"), "now": datetime.now(UTC)})
        await _to(db, "1d3a0d170008")
        await _to(db, "head")  # today's query reads the columns of later revisions too
        async with db.read() as s:
            who = await authenticate(s, "cg_old")
    assert who.user_id == "old" and who.clients == frozenset() and who.expires_at is not None
    assert timedelta(days=89) < who.expires_at - datetime.now(UTC) <= timedelta(days=90)
