"""List queries: opaque keyset cursors (stable under concurrent inserts) and optional equality filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import Field
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.sql.elements import SQLCoreOperations

from core.errors import BadRequest

Sel = TypeVar("Sel", bound=Select[Any])
CURSOR_PATTERN = r"^[0-9]{1,17}_[0-9A-Za-z-]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Cursor = Annotated[str, Field(pattern=CURSOR_PATTERN, max_length=82, description=(
    "Opaque keyset position: pass a previous page's next_cursor (microseconds since 1970, '_', row id)"))]


class BadCursor(BadRequest):
    """The cursor was not produced by this API."""

    code = "bad-cursor"


def to_micros(at: datetime) -> int:
    """``at`` as whole microseconds since 1970 (UTC), the time part of a cursor."""
    return (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The UTC instant ``micros`` microseconds after 1970."""
    return _EPOCH + timedelta(microseconds=micros)


def encode_cursor(at: datetime, row_id: str) -> str:
    """A cursor pointing after (at, row_id) in descending order: ``<microseconds since 1970>_<row id>``."""
    return f"{to_micros(at)}_{row_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (at, row_id) a cursor points after; BadCursor when it does not have the documented form."""
    if not _CURSOR.match(cursor):
        raise BadCursor("the cursor is malformed", details={"field": "cursor"})
    micros, row_id = cursor.split("_", 1)
    return from_micros(int(micros)), row_id


def after(at_col: SQLCoreOperations[datetime], id_col: SQLCoreOperations[str], cursor: tuple[datetime, str]
          ) -> ColumnElement[bool]:
    """The keyset condition 'strictly after ``cursor`` in (at, id) descending order'."""
    at, row_id = cursor
    return or_(at_col < at, and_(at_col == at, id_col < row_id))


def after_ascending(at_col: SQLCoreOperations[datetime], id_col: SQLCoreOperations[str],
                    cursor: tuple[datetime, str]) -> ColumnElement[bool]:
    """The keyset condition 'strictly after ``cursor`` in (at, id) ascending order' (oldest-first lists)."""
    at, row_id = cursor
    return or_(at_col > at, and_(at_col == at, id_col > row_id))


def where_equal(stmt: Sel, *pairs: tuple[SQLCoreOperations[Any], object]) -> Sel:
    """``stmt`` filtered by ``column == value`` for every pair whose value is given (not None or empty)."""
    for column, value in pairs:
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    return stmt
