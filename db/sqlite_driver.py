"""SQLite through aiosqlite, one hand-off to aiosqlite's thread per statement.

aiosqlite runs every call on the sqlite3 connection in its own thread; each call is a hand-off from the
event loop to that thread and back. SQLAlchemy's adapter makes four such calls per statement: open a
cursor, execute, fetch the rows, close the cursor. Its cursor here makes one: the thread opens a sqlite3
cursor, executes, fetches every row, reads ``rowcount`` and ``lastrowid`` after the fetch (as the adapter
did) and closes it. Same SQL, parameters, rows, counts and errors; a statement costs about a quarter
less (the compliance gate's three statements per dial: measured in bench/compliance_check.py).

Server-side cursors (``stream_results``) keep SQLAlchemy's own cursor, which fetches on demand.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, list[Any], int, int | None]


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """In aiosqlite's thread: run one statement to completion on a cursor of its own."""
    cursor = connection.cursor()
    try:
        cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(connection: sqlite3.Connection, operation: str, parameters: Sequence[Any]) -> _Outcome:
    """In aiosqlite's thread: ``executemany`` on a cursor of its own."""
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor, with each statement run in one call to aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # not the parent's __init__: it opens an aiosqlite cursor (a hand-off) that this cursor never uses
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _execute, connection._conn, operation, () if parameters is None else parameters)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _executemany, connection._conn, operation, seq_of_parameters)
        self._description, _, self._rowcount, self._lastrowid = outcome

    async def _async_soft_close(self) -> None:
        """Nothing to close: the statement's cursor was closed in the thread."""


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        return _Connection(self, super().connect(*arg, **kw)._connection)


def sqlite_dbapi() -> Any:
    """The DB-API module to hand to ``create_async_engine(..., module=...)`` for ``sqlite+aiosqlite`` URLs."""
    return _DBAPI(aiosqlite, sqlite3)
