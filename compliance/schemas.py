"""Request and response models of the compliance API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from compliance.decision import BlockCode, Decision, ZoneInfoOut
from compliance.explain import explain
from compliance.models import ClientPolicy, ComplianceDecision, DoNotCall
from compliance.policy import Policy
from core.pagination import Cursor
from core.schemas import Instant, whole_number
from dialer.schemas import CallRequest

#: a do-not-call list position: ``<microseconds since 1970>_<kind>_<number or prefix>_<client or *>``
DNC_CURSOR_PATTERN = r"^[0-9]{1,17}_(exact|prefix)_\+[0-9]{1,15}_(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$"

class CheckRequest(CallRequest):
    """Same body as POST /v1/calls: the answer the gate would give, without dialling."""


class ZoneOut(BaseModel):
    """A candidate zone of the callee and where it came from."""

    zone: str
    source: str


class DecisionOut(BaseModel):
    """An explained gate decision."""

    decision_id: str
    allowed: bool
    code: str | None
    message: str
    rule_ids: list[str]
    zones: list[ZoneOut]
    next_allowed_at: datetime | None
    overridden: bool
    override_reason: str | None
    policy_id: str
    blocks: list[dict[str, Any]]
    agreed_windows: list[dict[str, Any]] = Field(
        default_factory=list, description="The agreed windows that applied, each with its evidence")
    messages: dict[str, str] = Field(
        default_factory=dict, description="The explanation in each language (zh-CN, en); `message` is the English",
        json_schema_extra={"propertyNames": {"enum": ["zh-CN", "en"]}})
    number: str | None = None


class DecisionLogEntry(BaseModel):
    """One row of the append-only decision log."""

    id: str
    at: datetime
    kind: str
    actor: str
    actor_role: str
    agent_id: str | None
    case_id: str | None
    client_id: str | None
    number: str
    call_id: str | None
    allowed: bool
    code: str | None
    rule_ids: list[str]
    zones: list[ZoneOut]
    next_allowed_at: datetime | None
    overridden: bool
    override_reason: str | None
    policy_id: str
    message: str
    messages: dict[str, str] = Field(
        default_factory=dict, description="The explanation in each language (zh-CN, en); `message` is the English",
        json_schema_extra={"propertyNames": {"enum": ["zh-CN", "en"]}})
    details: dict[str, Any]


class DecisionPage(BaseModel):
    """A page of decisions, newest first."""

    items: list[DecisionLogEntry]
    next_cursor: str | None


class DecisionQuery(BaseModel):
    """Filters of the decision log."""

    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(None, max_length=36)
    number: str | None = Field(None, max_length=20)
    agent: str | None = Field(None, max_length=64)
    allowed: bool | None = None
    code: str | None = Field(None, max_length=32)
    since: Instant | None = Field(None, alias="from")
    until: Instant | None = Field(None, alias="to")
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)


class PolicyIn(BaseModel):
    """A client's policy: a jurisdiction profile (CN, US, DEMO) and the client's own tightening.

    ``rules`` takes any field of the policy model (windows, holidays, caps, holds...); the
    effective policy is the strictest combination of the profile and these rules.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"jurisdiction": "CN", "rules": {"max_unanswered_per_number_per_day": 2}, "retention_days": 1095,
         "reason": "the bank's 2027 contract caps unanswered calls at two a day"}]})

    jurisdiction: Literal["CN", "US", "DEMO"]
    rules: dict[str, Any] = Field(default_factory=dict)
    retention_days: Annotated[int, Interval(ge=1), BeforeValidator(whole_number)] | None = Field(
        None, description="Recording retention for this client")
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail, not stored with the "
                                                                 "policy)")


class PolicyOut(BaseModel):
    """A client's stored policy and the effective policy the gate applies."""

    client_id: str
    jurisdiction: str
    rules: dict[str, Any]
    retention_days: int | None
    effective: dict[str, Any]
    updated_at: datetime
    updated_by: str


class DoNotCallIn(BaseModel):
    """An exact number or a prefix nobody may dial."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"value": "+8613800000666", "kind": "exact", "reason": "asked not to be called"}]})

    value: str = Field(pattern=r"^\+[0-9]{1,15}$", description="E.164 number or prefix (with +)")
    kind: Literal["exact", "prefix"] = "exact"
    reason: str = Field("", max_length=500)
    client: str | None = Field(None, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$", description=(
        "the client whose dials the entry binds; `*` every client (global admins only); default: the "
        "caller's only client, or every client for a global admin"))


class DoNotCallClient(BaseModel):
    """The client of a do-not-call entry to remove (DELETE's query)."""

    model_config = ConfigDict(extra="forbid")

    client: str | None = Field(None, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class DoNotCallQuery(BaseModel):
    """Filters of the do-not-call list (newest first)."""

    model_config = ConfigDict(extra="forbid")

    client: str | None = Field(None, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$",
                               description="one client's entries (`*`: the entries of every client)")
    number: str | None = Field(None, pattern=r"^\+[0-9]{1,15}$",
                               description="the entries that stop this E.164 number (its exact entry and prefixes)")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=DNC_CURSOR_PATTERN, max_length=120, description=(
        "Opaque keyset position: pass a previous page's next_cursor (microseconds since 1970 of the entry's "
        "`added_at`, its kind, number and client, `_`-separated)"))


class DoNotCallOut(BaseModel):
    """One do-not-call entry (``client`` `*`: it binds every client's dials)."""

    value: str
    kind: str
    client: str
    reason: str
    added_by: str
    added_at: datetime


class DoNotCallList(BaseModel):
    """Do-not-call entries, newest first (at most ``limit``); ``next_cursor`` when there may be more."""

    items: list[DoNotCallOut]
    next_cursor: str | None = Field(None, pattern=DNC_CURSOR_PATTERN)


def dnc_snapshot(row: DoNotCall) -> dict[str, Any]:
    """The audited form of a do-not-call entry."""
    return {"value": row.value, "kind": row.kind, "client": row.client_id or "*", "reason": row.reason,
            "added_by": row.added_by,
            "added_at": row.added_at.isoformat() if row.added_at else None}


def policy_snapshot(row: ClientPolicy) -> dict[str, Any]:
    """The audited form of a client's stored policy (the whole of it: the trail is the policy's history)."""
    return {"client_id": row.client_id, "jurisdiction": row.jurisdiction, "rules": row.policy,
            "retention_days": row.retention_days, "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


def decision_entry_json(row: ComplianceDecision) -> dict[str, Any]:
    """The API form of one decision-log row."""
    entry = DecisionLogEntry.model_validate(row, from_attributes=True)
    # built without validation: a logged row is history, explained as it was recorded
    decision = Decision.model_construct(
        allowed=entry.allowed, code=cast(BlockCode | None, entry.code), message=entry.message,
        rule_ids=entry.rule_ids, zones=[ZoneInfoOut(zone=z.zone, source=z.source) for z in entry.zones],
        next_allowed_at=entry.next_allowed_at, details=entry.details, overridden=entry.overridden,
        override_reason=entry.override_reason, policy_id=entry.policy_id, evaluated_at=entry.at)
    entry.messages = {"zh-CN": explain(decision, "zh-CN"), "en": entry.message}
    out: dict[str, Any] = entry.model_dump(mode="json")
    return out


def policy_json(row: ClientPolicy, effective: Policy) -> dict[str, Any]:
    """The API form of a client's stored policy with the effective one."""
    return {"client_id": row.client_id, "jurisdiction": row.jurisdiction, "rules": row.policy,
            "retention_days": row.retention_days, "effective": effective.model_dump(mode="json"),
            "updated_at": row.updated_at.isoformat(), "updated_by": row.updated_by}
