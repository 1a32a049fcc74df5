"""The policy facts of one dial, read with SQL: the client's policy row and the do-not-call facts of the number.

The do-not-call list is read by primary key only: whether the number itself is listed, and the first
(shortest) listed prefix it starts with. They decide the dial, and name the same prefix, exactly as the
whole list would.

The facts are columns (scalar subqueries) so that a caller can add them to a query it runs anyway: the
case directory reads them in the same round trip as the case (``client_id`` is then the case's client
column, correlated), the gate reads them alone (``client_id`` a parameter) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Label,
    Select,
    String,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from compliance.models import EVERY_CLIENT, ClientPolicy, DoNotCall

# The number's prefixes are cut from the number parameter in SQL, a fixed list of them (an expanding IN
# would re-render the SQL on every dial): enough for any E.164 number (at most 16 characters with the
# '+'); longer input takes the expanding form (prefixes as parameters).
_PREFIX_SLOTS = 20

_ClientId = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """The client's policy row (``jurisdiction`` None: the client has none) and the number's do-not-call facts."""

    jurisdiction: str | None
    rules: dict[str, Any] | None
    listed: bool
    prefix: str | None

    @classmethod
    def from_row(cls, row: Any) -> PolicyFacts:
        """The facts from a row holding the columns of ``policy_columns``."""
        return cls(jurisdiction=row.client_jurisdiction, rules=row.client_rules, listed=bool(row.dnc_listed),
                   prefix=row.dnc_prefix)


def _binds(client_id: _ClientId) -> ColumnElement[bool]:
    """The entries that bind a dial of ``client_id``: every client's and its own; a dial of no client (a
    manual dial) is bound by every entry, the strict reading."""
    return or_(client_id.is_(None), DoNotCall.client_id.in_([literal(EVERY_CLIENT), client_id]))


def _columns(client_id: _ClientId, prefixes: Any) -> list[Label[Any]]:
    binds = _binds(client_id)
    return [
        select(ClientPolicy.jurisdiction).where(ClientPolicy.client_id == client_id)
        .scalar_subquery().label("client_jurisdiction"),
        select(ClientPolicy.policy).where(ClientPolicy.client_id == client_id)
        .scalar_subquery().label("client_rules"),
        exists().where(DoNotCall.kind == "exact", DoNotCall.value == bindparam("number"), binds).label("dnc_listed"),
        select(func.min(DoNotCall.value)).where(DoNotCall.kind == "prefix", DoNotCall.value.in_(prefixes), binds)
        .scalar_subquery().label("dnc_prefix"),
    ]


def policy_columns(client_id: _ClientId) -> list[Label[Any]]:
    """The facts as columns, for the client ``client_id`` (a parameter, or a column of the query they join)
    and the number given by the parameters of ``policy_params``."""
    # substr past the end of the number is the number itself: a value repeated in an IN list changes nothing
    number = bindparam("number", type_=String())
    return _columns(client_id, [func.substr(number, literal_column("1"), literal_column(str(k)))
                                for k in range(1, _PREFIX_SLOTS + 1)])


def policy_params(number: str) -> dict[str, Any] | None:
    """The parameters of ``policy_columns`` for ``number``; None when it is too long for them."""
    return {"number": number} if 0 < len(number) <= _PREFIX_SLOTS else None


# built once: constructing statements per dial costs more than running them
_POLICY_FACTS: Select[Any] = select(*policy_columns(bindparam("client_id", type_=String())))
_POLICY_FACTS_LONG: Select[Any] = select(*_columns(bindparam("client_id", type_=String()),
                                                   bindparam("values", expanding=True)))


async def read_policy_facts(session: AsyncSession, client_id: str | None, number: str) -> PolicyFacts:
    """The facts of ``client_id`` (None: no client) and ``number``, in one query."""
    params = policy_params(number)
    if params is None:
        row = (await session.execute(_POLICY_FACTS_LONG, {"client_id": client_id, "number": number,
                                                          "values": _prefixes(number)})).one()
    else:
        row = (await session.execute(_POLICY_FACTS, {"client_id": client_id, **params})).one()
    return PolicyFacts.from_row(row)


def _prefixes(number: str) -> list[str]:
    """Every leading part of ``number``, itself included: the do-not-call values that can match it."""
    return [number[:k] for k in range(1, len(number) + 1)]
