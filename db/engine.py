"""The database: one async engine and session factory, SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL.

SQLite's default transaction handling lost 474 of 500 concurrent read-modify-write updates in a
measurement here, so every SQLite transaction begins with ``BEGIN IMMEDIATE`` (one writer at a time,
readers unaffected thanks to WAL). Within one process, SQLite write transactions also queue (FIFO) on an
``asyncio.Lock`` taken before ``BEGIN IMMEDIATE``: concurrent BEGINs on separate pooled connections
otherwise collide and SQLite's busy handler sleeps and polls (p99 of 50 concurrent dials: seconds). The
wait for the lock is bounded by the same ``sqlite_busy_timeout_ms`` as SQLite's own wait. On PostgreSQL,
code that reads then writes uses ``SELECT ... FOR UPDATE`` (see ``lock_for_update``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config.settings import DatabaseSettings
from core.errors import UpstreamUnavailable
from db.sqlite_driver import sqlite_dbapi

log = logging.getLogger(__name__)
S = TypeVar("S", bound=Select[Any])
# Set while the current task runs inside ``Database.begin`` on SQLite: a nested ``begin`` (which SQLite
# itself can only answer with 'database is locked' after the busy timeout) must not wait on the lock
# its own outer transaction holds.
_IN_SQLITE_WRITE: ContextVar[bool] = ContextVar("callguard_in_sqlite_write", default=False)
# ``session.info`` key: callbacks to run once the session's transaction has committed (see ``after_commit``)
_AFTER_COMMIT = "callguard.after_commit"


def after_commit(session: AsyncSession, key: object, callback: Callable[[], None]) -> None:
    """Run ``callback`` once after ``session``'s unit of work commits (never after a rollback).

    One callback per ``key`` per transaction: the event log registers itself once, however many events
    it records. Callbacks must be cheap and must not raise (they wake tailers; see ``core.events``).
    """
    session.info.setdefault(_AFTER_COMMIT, {})[key] = callback


class Database:
    """Owns the engine; ``async with Database(settings) as db`` disposes it on exit."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.url = settings.url
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine: AsyncEngine = _create_engine(settings, immediate=True)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite readers get their own engine with deferred BEGIN, so reports never queue behind writers.
        self.read_engine = _create_engine(settings, immediate=False) if self.is_sqlite else self.engine
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite: write transactions of this process queue here before BEGIN IMMEDIATE (see module doc).
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: a session in a transaction, committed on success, rolled back on error.

        After the commit, whatever registered with ``after_commit`` runs: recorded domain events are
        published by the unit of work itself, never by its caller.

        Database outages become ``UpstreamUnavailable('database')`` instead of a stack trace. On SQLite
        the transaction first waits its turn on the process's write lock (at most the busy timeout).
        """
        lock = self._write_lock
        if lock is None or _IN_SQLITE_WRITE.get():
            async with self._transaction() as session:
                yield session
        else:
            await self._acquire_write_lock(lock)
            token = _IN_SQLITE_WRITE.set(True)
            try:
                async with self._transaction() as session:
                    yield session
            finally:
                _IN_SQLITE_WRITE.reset(token)
                lock.release()
        # committed (an error or a rollback raised above): publish, after the write lock is released
        for callback in session.info.pop(_AFTER_COMMIT, {}).values():
            callback()

    async def _acquire_write_lock(self, lock: asyncio.Lock) -> None:
        """Wait for ``lock`` as SQLite would wait for its write lock: up to the busy timeout, then 'unavailable'.

        A waiter cancelled (or timed out) while queued never holds the lock afterwards (asyncio.Lock
        marks itself locked only when ``acquire`` returns).
        """
        try:
            async with asyncio.timeout(self.settings.sqlite_busy_timeout_ms / 1000):
                await lock.acquire()
        except TimeoutError as exc:
            raise UpstreamUnavailable("database", "the database is unavailable (write lock busy)") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessionmaker.begin() as session:
                yield session
        except (OperationalError, DBAPIError, OSError) as exc:
            if isinstance(exc, DBAPIError) and not _is_outage(exc):
                raise
            raise UpstreamUnavailable("database", "the database is unavailable") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work (no commit)."""
        try:
            async with self.read_sessionmaker() as session:
                yield session
        except (OperationalError, OSError) as exc:
            raise UpstreamUnavailable("database", "the database is unavailable") from exc

    def for_update(self, stmt: S) -> S:
        """Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers."""
        return stmt if self.is_sqlite else stmt.with_for_update()

    async def ping(self) -> dict[str, Any]:
        """Health of the database, for /readyz (a reader: never waits for, or takes, the write lock)."""
        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return {"ok": True, "dialect": self.engine.dialect.name}
        except (OperationalError, DBAPIError, OSError) as exc:
            return {"ok": False, "dialect": self.engine.dialect.name, "error": type(exc).__name__}


def _is_outage(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def _create_engine(settings: DatabaseSettings, *, immediate: bool) -> AsyncEngine:
    url = settings.url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # one hand-off to aiosqlite's thread per statement instead of four (see db.sqlite_driver)
        engine = create_async_engine(url, echo=settings.echo, module=sqlite_dbapi())
        busy = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from the driver so BEGIN IMMEDIATE can be issued.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_async_engine(
        url, echo=settings.echo, pool_size=settings.pool_size, max_overflow=settings.pool_size,
        pool_pre_ping=True,
    )
