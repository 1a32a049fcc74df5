"""SQL dialect probes: which dialect a session speaks, and whether a table (owned by another package) exists."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """The session's SQL dialect name (sqlite, postgresql)."""
    return session.get_bind().dialect.name


async def has_table(session: AsyncSession, name: str) -> bool:
    """Whether table ``name`` exists in the database."""
    if dialect_of(session) == "sqlite":
        q = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n")
    else:
        q = text("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = :n")
    return (await session.execute(q, {"n": name})).first() is not None
