"""List queries: opaque keyset cursors (stable under concurrent inserts) and optional equality filters."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.sql.elements import SQLCoreOperations

from core.errors import BadRequest

Sel = TypeVar("Sel", bound=Select[Any])


class BadCursor(BadRequest):
    """The cursor was not produced by this API."""

    code = "bad-cursor"


def encode_cursor(at: datetime, row_id: str) -> str:
    """A cursor pointing after (at, row_id) in descending order."""
    raw = json.dumps([at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (at, row_id) a cursor points after; BadCursor when it is malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None or not isinstance(row_id, str):
            raise ValueError("bad cursor")
        return parsed, row_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise BadCursor("the cursor is malformed", details={"field": "cursor"}) from None


def after(at_col: SQLCoreOperations[datetime], id_col: SQLCoreOperations[str], cursor: tuple[datetime, str]
          ) -> ColumnElement[bool]:
    """The keyset condition 'strictly after ``cursor`` in (at, id) descending order'."""
    at, row_id = cursor
    return or_(at_col < at, and_(at_col == at, id_col < row_id))


def where_equal(stmt: Sel, *pairs: tuple[SQLCoreOperations[Any], object]) -> Sel:
    """``stmt`` filtered by ``column == value`` for every pair whose value is given (not None or empty)."""
    for column, value in pairs:
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    return stmt
