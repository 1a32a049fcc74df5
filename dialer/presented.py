"""Presented numbers: the caller number each client's calls show the customer.

A client (the bank) has an ordered list of presented numbers, E.164 only; the first is its primary. A call
of one of the client's cases presents the primary (or a number the caller picks from the list, for a
campaign: ``preferred``); a call without a client, or of a client without numbers, presents the PBX's
default (``DEFAULT_CLI`` in the dial plan, docs/PBX.md). Validation is pure; the SQL is beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.scope import Scope
from auth.service import Principal
from core.clock import Clock
from db.engine import Database
from dialer.errors import InvalidPresentedNumber, NoPresentedNumbers, PresentedNumberNotOwned
from dialer.models import PresentedNumber

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_NUMBERS = 20


def presented_number(value: str) -> str:
    """``value`` if it is an E.164 number valid for its country; InvalidPresentedNumber (422) otherwise.

    No normalisation: what is stored is exactly what reaches the PBX, ``+`` and digits.
    """
    if not isinstance(value, str) or not E164.fullmatch(value):
        raise InvalidPresentedNumber("a presented number is E.164: '+' then 7 to 15 digits",
                                     details={"number": str(value)[:40]})
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise InvalidPresentedNumber("not a valid phone number for its country", details={"number": value})
    return value


def presented_numbers(values: Sequence[str]) -> list[str]:
    """Every value checked (``presented_number``), in order, without duplicates, at most MAX_NUMBERS."""
    if len(values) > MAX_NUMBERS:
        raise InvalidPresentedNumber(f"at most {MAX_NUMBERS} presented numbers per client",
                                     details={"max": MAX_NUMBERS})
    numbers = [presented_number(v) for v in values]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise InvalidPresentedNumber("a presented number is listed twice", details={"numbers": duplicates})
    return numbers


def choose(numbers: Sequence[str], preferred: str | None = None) -> str | None:
    """The number a call presents: ``preferred`` (a campaign's pick; it must be one of ``numbers``),
    else the primary (the first); None when there are none (the PBX default applies)."""
    if preferred is not None:
        if preferred not in numbers:
            raise PresentedNumberNotOwned("the number is not one of the client's presented numbers",
                                          details={"number": preferred})
        return preferred
    return numbers[0] if numbers else None


async def numbers_of(session: AsyncSession, client_id: str) -> list[PresentedNumber]:
    """The client's presented numbers, primary first."""
    rows = await session.scalars(select(PresentedNumber).where(PresentedNumber.client_id == client_id)
                                 .order_by(PresentedNumber.position))
    return list(rows.all())


async def number_for_call(session: AsyncSession, client_id: str | None, *,
                          preferred: str | None = None) -> str | None:
    """What a call of ``client_id`` presents (``choose`` over the client's numbers); None: the PBX default."""
    if client_id is None:
        if preferred is not None:
            raise PresentedNumberNotOwned("a call without a client has no presented numbers to pick from",
                                          details={"number": preferred})
        return None
    return choose([row.number for row in await numbers_of(session, client_id)], preferred)


@dataclass(frozen=True, slots=True)
class ClientNumbers:
    """A client's presented numbers as the API shows them."""

    client_id: str
    numbers: list[str]
    updated_at: datetime
    updated_by: str

    @property
    def primary(self) -> str | None:
        """The number the client's calls present unless a campaign picks another (None: the PBX default)."""
        return choose(self.numbers)


class PresentedNumberService:
    """Reads and replaces clients' presented numbers (role checks are the HTTP routes')."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def get(self, principal: Principal, client_id: str) -> ClientNumbers:
        """The client's numbers; NoPresentedNumbers (404) when it has none, or the caller does not serve it."""
        _require_client(principal, client_id)
        async with self.db.read() as s:
            rows = await numbers_of(s, client_id)
        return _client_numbers(client_id, rows)

    async def replace(self, principal: Principal, client_id: str, values: Sequence[str]) -> ClientNumbers:
        """Replace the client's list (first = primary); an empty list removes them all (the PBX default)."""
        _require_client(principal, client_id)
        numbers = presented_numbers(values)
        now = self.clock.now()
        async with self.db.begin() as s:
            await s.execute(delete(PresentedNumber).where(PresentedNumber.client_id == client_id))
            s.add_all([PresentedNumber(client_id=client_id, position=i, number=n, updated_at=now,
                                       updated_by=principal.user_id) for i, n in enumerate(numbers)])
        return ClientNumbers(client_id, numbers, now, principal.user_id)


def _require_client(principal: Principal, client_id: str) -> None:
    """Another bank's numbers answer exactly like a client with none (404)."""
    if not Scope.of(principal).sees_client(client_id):
        raise NoPresentedNumbers(f"client {client_id!r} has no presented numbers; its calls present the PBX "
                                 "default", details={"client_id": client_id})


def _client_numbers(client_id: str, rows: Sequence[PresentedNumber]) -> ClientNumbers:
    if not rows:
        raise NoPresentedNumbers(f"client {client_id!r} has no presented numbers; its calls present the PBX "
                                 "default", details={"client_id": client_id})
    latest = max(rows, key=lambda r: r.updated_at)
    return ClientNumbers(client_id, [r.number for r in rows], latest.updated_at, latest.updated_by)
