"""Two dials to the same debtor or number never pass a cap together (PostgreSQL).

SQLite transactions already begin IMMEDIATE (one writer at a time). On PostgreSQL each dial takes
transaction-scoped advisory locks on ``d:<debtor key>`` and ``n:<number>``, before it reads the ledger,
always in that order (sorted keys; a select list is evaluated in the same order by every session). A key
is the first 8 bytes of the SHA-256 of its text, as a signed big-endian integer.

The locks are taken either by one statement of their own (``lock_statement``) or, by a case directory,
as columns of the statement that reads the case (``lock_columns``: the debtor's key is then computed in
SQL from the case row, the same key). Either way the ledger is read by a later statement, whose snapshot
is taken after the locks are held.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Label,
    String,
    TextClause,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import BIT


def lock_key(key: str) -> int:
    """The advisory lock id of ``key``."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def lock_keys(number: str, debtor_key: str, *more_debtors: str) -> list[int]:
    """The lock ids of a dial to ``number`` on ``debtor_key`` (and, for a dial without a case, every other
    debtor holding the number), in the order they are taken."""
    keys = {f"n:{number}", f"d:{debtor_key}", *(f"d:{d}" for d in more_debtors)}
    return [lock_key(key) for key in sorted(keys)]


@lru_cache(maxsize=16)
def _locks(n: int) -> TextClause:
    """One statement taking ``n`` locks, in the order of its parameters."""
    return text("SELECT " + ", ".join(f"pg_advisory_xact_lock(:k{i})" for i in range(n)))


def lock_statement(number: str, debtor_key: str, *more_debtors: str) -> tuple[TextClause, dict[str, int]]:
    """The statement (and its parameters) taking the locks of a dial."""
    keys = lock_keys(number, debtor_key, *more_debtors)
    return _locks(len(keys)), {f"k{i}": k for i, k in enumerate(keys)}


def _lock_key_sql(key: ColumnElement[str]) -> ColumnElement[int]:
    """``lock_key`` in PostgreSQL: the first 8 bytes of the SHA-256 of ``key`` as a signed 64-bit integer."""
    first8 = func.substr(func.sha256(func.convert_to(key, literal_column("'UTF8'"))), 1, 8)
    hex16 = literal_column("'x'", String()) + func.encode(first8, literal_column("'hex'"))
    return cast(cast(hex16, BIT(64)), BigInteger)


def lock_columns(debtor_key: ColumnElement[str]) -> list[Label[Any]]:
    """The locks of a dial as columns of a PostgreSQL query: the debtor's (``debtor_key``: an expression over
    the query's rows) then the number's (parameter ``number_lock``: ``lock_key('n:' + number)``)."""
    return [
        func.pg_advisory_xact_lock(_lock_key_sql(literal("d:") + debtor_key)).label("debtor_locked"),
        func.pg_advisory_xact_lock(bindparam("number_lock", type_=BigInteger())).label("number_locked"),
    ]


def lock_params(number: str) -> dict[str, Any]:
    """The parameters of ``lock_columns`` for a dial to ``number``."""
    return {"number_lock": lock_key(f"n:{number}")}
