"""Shared schema pieces: strict time parameters, and the public forms of domain events (the live stream's
event, its ``hello``, and a webhook's body)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, WithJsonSchema

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
_OFFSET = r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
RFC3339 = re.compile(f"^{_DATE}[Tt]{_TIME}{_OFFSET}$", re.IGNORECASE)
_DAY_OR_TIME = re.compile(f"^{_DATE}(?:T{_TIME}{_OFFSET})?$", re.IGNORECASE)


def _rfc3339(value: Any) -> Any:
    """Only RFC 3339 date-times (what ``format: date-time`` documents), not numbers or other ISO forms."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with offset, e.g. 2026-01-31T09:00:00+08:00")
    return value.upper()


def _day_or_time(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY_OR_TIME.match(value):
        raise ValueError("expected a date (2026-01-31) or a date-time with offset (2026-01-31T09:00:00+08:00)")
    return value.upper()


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""An aware instant given as an RFC 3339 string."""

DayOrTime = Annotated[date | datetime, BeforeValidator(_day_or_time), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})]
"""A plain date (read in a zone given elsewhere) or an RFC 3339 date-time with offset."""


class Readiness(BaseModel):
    """``GET /readyz``: ready or not (then 503), and each dependency's state."""

    ready: bool
    checks: dict[str, Any] = Field(description="database, pbx (per PBX), and recordings/storage/probe when enabled")


class EventOut(BaseModel):
    """A domain event on the live stream (``core.events.event_to_json``)."""

    id: str = Field(description="The event id (the webhook's data.event_id)")
    seq: int = Field(description="Position in the event log; the SSE ``id``")
    type: str = Field(description="Past-tense type, e.g. ``call.answered``")
    occurred_at: datetime
    call_id: str | None
    case_id: str | None
    agent_id: str | None
    client_id: str | None = Field(description="Whose event it is (None: the platform's)")
    team: str | None
    data: dict[str, Any] = Field(description="The event's thin payload (ids and non-personal fields); its schema "
                                             "per type is the type's own (the stream's oneOf, by ``event``)")


class HelloData(BaseModel):
    """The first event of every stream: who is listening."""

    user: str
    role: str


class WebhookBody(BaseModel):
    """A webhook delivery's body (``hooks.outbox.event_body``), Standard Webhooks style."""

    type: str = Field(description="The event type, e.g. ``call.ended``")
    timestamp: datetime
    data: dict[str, Any] = Field(description=(
        "The event's payload plus ``event_id`` and, when set, ``case_id``, ``call_id``, ``agent_id``, ``client_id``"))


_MONEY = re.compile(r"^[0-9]{1,14}(?:\.[0-9]{1,4})?$")
_MONEY_SCHEMA: dict[str, Any] = {"anyOf": [
    {"type": "string", "pattern": _MONEY.pattern, "description": "decimal with up to 4 places, e.g. \"1234.56\""},
    {"type": "integer", "minimum": 0, "maximum": 99_999_999_999_999}]}
_MONEY_MAX = 99_999_999_999_999
_ZERO = {"anyOf": [{"type": "string", "pattern": r"^0+(?:\.0+)?$"}, {"const": 0}]}


def _money(value: Any) -> Any:
    """Amounts as a decimal string or a whole number; a JSON fraction would be a binary float, so it is refused."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MONEY_MAX:
        return value
    if isinstance(value, Decimal):  # from the file importer, already parsed
        return value
    if isinstance(value, str) and _MONEY.match(value):
        return value
    raise ValueError('expected a decimal string with up to 4 places ("1234.56") or a whole number')


Money = Annotated[Decimal, Interval(ge=0), BeforeValidator(_money), WithJsonSchema(_MONEY_SCHEMA)]
"""An amount >= 0 with at most 14 integer digits and 4 decimal places."""

PositiveMoney = Annotated[Decimal, Interval(gt=0), BeforeValidator(_money),
                          WithJsonSchema({**_MONEY_SCHEMA, "not": _ZERO})]
"""A Money amount above zero."""


_CLOCK = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?$")
_DAY = re.compile(f"^{_DATE}$")


def _clock(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ValueError("expected a local clock time HH:MM or HH:MM:SS")
    return value


def _day(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError("expected a date YYYY-MM-DD")
    return value


ClockTime = Annotated[time, BeforeValidator(_clock), WithJsonSchema({"type": "string", "pattern": _CLOCK.pattern})]
"""A local wall-clock time without zone (the zone is a field of its own)."""

Day = Annotated[date, BeforeValidator(_day)]
"""A calendar date given as YYYY-MM-DD."""


def whole_number(value: Any) -> Any:
    """A JSON integer (``7``, or ``7.0``, which JSON Schema counts as one), never a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected an integer")
    return value


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def json_number(value: Any) -> Any:
    """A JSON number, never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return value


WholeNumber = Annotated[int, BeforeValidator(whole_number)]
"""A body integer: pydantic's lax coercions ("5", true) are refused, as the document says."""

JsonBool = Annotated[bool, BeforeValidator(_json_bool)]
"""A body boolean: only true or false."""

JsonNumber = Annotated[float, BeforeValidator(json_number)]
"""A body number: never a string or a boolean."""


class Health(BaseModel):
    """``GET /healthz``: the process serves requests."""

    status: Literal["ok"]
