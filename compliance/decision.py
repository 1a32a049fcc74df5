"""Gate input (``DialContext``) and output (``Block``, ``Decision``) models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.policy import HoldReason
from compliance.timezones import get_zone
from compliance.windows import AgreedWindow

BlockCode = Literal[
    "outside-calling-hours", "holiday", "frequency-cap", "case-on-hold", "do-not-call",
    "third-party-restricted", "unknown-timezone", "case-closed", "case-paid", "case-returned", "case-recalled",
]
#: A case in one of these states is no longer ours to collect: every dial of it is blocked.
ENDED_CASE_STATUSES: tuple[str, ...] = ("closed", "paid", "returned", "recalled")
CaseStatus = Literal["active", "on_hold", "closed", "paid", "returned", "recalled"]
#: Primary code choice: lower is more severe.
SEVERITY: dict[str, int] = {
    "case-closed": 0, "case-paid": 0, "case-returned": 0, "case-recalled": 0,
    "case-on-hold": 1, "do-not-call": 2, "third-party-restricted": 3, "unknown-timezone": 4,
    "holiday": 5, "outside-calling-hours": 6, "frequency-cap": 7,
}
OVERRIDE_ROLES: frozenset[str] = frozenset({"supervisor", "admin"})


class OverrideRequest(BaseModel):
    """A supervisor's request to dial despite overridable blocks."""

    model_config = ConfigDict(frozen=True)

    role: str
    reason: str
    requested_by: str = ""


class DialContext(BaseModel):
    """Everything about the dial the gate needs (the caller reads it from the case and number)."""

    model_config = ConfigDict(frozen=True)

    number: str = Field(pattern=r"^\+[1-9]\d{1,14}$")
    number_kind: Literal["own", "third_party"] = "own"
    third_party_objected: bool = False
    case_id: str
    case_status: CaseStatus = "active"
    holds: tuple[HoldReason, ...] = ()
    number_status: Literal["valid", "invalid", "do_not_call"] = "valid"
    case_zone: str | None = None
    address_zone: str | None = None
    number_zone: str | None = None
    agreed_windows: tuple[AgreedWindow, ...] = ()
    own_numbers_all_invalid: bool = False
    override: OverrideRequest | None = None


class Block(BaseModel):
    """One rule that blocks the dial."""

    rule_id: str
    code: BlockCode
    message: str
    overridable: bool
    clears_at: datetime | None = None
    time_based: bool = False
    #: the facts of ``message``, from which the explanation is worded in each language (``compliance.explain``)
    params: dict[str, Any] = Field(default_factory=dict)


class ZoneInfoOut(BaseModel):
    """A resolved zone and the source that named it."""

    zone: str
    source: str


class Decision(BaseModel):
    """The gate's explained answer; ``to_json()`` gives the JSON text, ``to_dict()`` plain JSON types."""

    allowed: bool
    code: BlockCode | None = None
    message: str
    rule_ids: list[str] = Field(default_factory=list)
    zones: list[ZoneInfoOut] = Field(default_factory=list)
    next_allowed_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    overridden: bool = False
    override_reason: str | None = None
    policy_id: str = ""
    evaluated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (datetimes as ISO 8601 strings)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The decision as a JSON document."""
        return self.model_dump_json()


def fmt_instant(instant: datetime, zone: str | None = None) -> str:
    """Human form of an instant: UTC, plus the local time in ``zone`` when given."""
    utc = instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if zone is None:
        return utc
    local = instant.astimezone(get_zone(zone))
    return f"{utc} ({local.strftime('%Y-%m-%d %H:%M')} in {zone})"
