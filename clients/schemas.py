"""Request and response models of ``/v1/clients/{client_id}/settings``."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from clients.models import ClientSettings
from core.clock import iso_or_none
from core.schemas import JsonBool, WholeNumber

_PERCENT = r"^(?:100(?:\.0{1,2})?|[0-9]{1,2}(?:\.[0-9]{1,2})?)$"


def _percent(value: Any) -> Any:
    """A percentage as a decimal string with up to 2 places or a whole number, 0 to 100 (no binary float)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    if isinstance(value, str) and re.match(_PERCENT, value):
        return value
    raise ValueError('expected a percentage from 0 to 100 with up to 2 decimal places ("2.5") or a whole number')


Percent = Annotated[Decimal, Interval(ge=0, le=100), BeforeValidator(_percent), WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": _PERCENT, "description": "0 to 100 with up to 2 places, e.g. \"2.5\""},
    {"type": "integer", "minimum": 0, "maximum": 100}]})]
"""A percentage from 0 to 100 with at most 2 decimal places."""


class ClientSettingsIn(BaseModel):
    """``PUT``: every setting (a missing one takes its default); ``reason`` goes to the audit trail."""

    model_config = ConfigDict(extra="forbid")

    pooling: JsonBool = Field(False, description="agents of a team are offered their team's unassigned cases")
    promise_grace_days: WholeNumber = Field(3, ge=0, le=60, description=(
        "days after a promise's date that its payments still count; then it is broken"))
    callback_team_grace_minutes: WholeNumber = Field(60, ge=1, le=10_080, description=(
        "minutes after a callback is due that it is offered to its team's available agents"))
    promise_tolerance_percent: Percent = Field(Decimal(0), description=(
        "how far short of its amount, in percent of it, a promise may be paid and still count as kept "
        "(0: only in full); fixed on each promise when it is made"))
    reason: str | None = Field(None, max_length=500)


class ClientSettingsOut(BaseModel):
    """A client's settings (the defaults when never set: ``updated_at`` null)."""

    client_id: str
    pooling: bool
    promise_grace_days: int
    callback_team_grace_minutes: int
    promise_tolerance_percent: str
    updated_at: datetime | None
    updated_by: str | None


def settings_snapshot(row: ClientSettings) -> dict[str, Any]:
    """The audited form of a client's settings."""
    return {"pooling": row.pooling, "promise_grace_days": row.promise_grace_days,
            "callback_team_grace_minutes": row.callback_team_grace_minutes,
            "promise_tolerance_percent": f"{Decimal(row.promise_tolerance_percent):.2f}"}


def settings_json(row: ClientSettings) -> dict[str, Any]:
    """The API form of a client's settings."""
    return {"client_id": row.client_id, **settings_snapshot(row), "updated_at": iso_or_none(row.updated_at),
            "updated_by": row.updated_by}
