"""A fresh PostgreSQL database per test, on the server `make test` starts (CALLGUARD_TEST_PG_URL)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL_ENV = "CALLGUARD_TEST_PG_URL"


def pg_admin_url() -> str:
    """The PostgreSQL server the suite uses; `make test` starts it and sets the variable."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.fail(f"{PG_URL_ENV} is not set: run the suite through `make test`, which starts PostgreSQL "
                    f"(or set {PG_URL_ENV}=postgresql+asyncpg://user@host/db yourself)")
    return url


async def create_pg_database() -> tuple[str, str]:
    """Create an empty database with a unique name; its URL and name."""
    admin = pg_admin_url()
    name = f"cgtest_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name, name


async def drop_pg_database(name: str) -> None:
    """Drop database ``name`` (closing its sessions)."""
    engine = create_async_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()
