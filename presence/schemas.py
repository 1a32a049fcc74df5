"""Request and response models of the agents API, and their serialisers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import iso_or_none
from core.schemas import Instant
from presence.models import AgentStateSpan
from presence.service import AgentView
from presence.states import AgentState

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_CODE = r"^[a-z][a-z0-9_-]{0,31}$"


class StateIn(BaseModel):
    """``PUT /v1/agents/{agent}/state``: ``available``, ``paused`` with a pause code, or ``offline`` (log out)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    state: AgentState
    pause_code: str | None = Field(None, pattern=_CODE, description="one of presence.pause_codes (paused only)")


class AgentQuery(BaseModel):
    """Filters of ``GET /v1/agents``."""

    model_config = ConfigDict(extra="forbid")

    state: AgentState | None = None
    team: str | None = Field(None, pattern=_ID)


class HistoryQuery(BaseModel):
    """``GET /v1/agents/{agent}/history``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: Instant | None = Field(None, alias="from")
    until: Instant | None = Field(None, alias="to")
    limit: int = Field(100, ge=1, le=1000)


class OccupancyQuery(BaseModel):
    """``GET /v1/agents/occupancy``: [from, to), by agent or team."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: Instant = Field(alias="from")
    until: Instant = Field(alias="to")
    group_by: Literal["agent", "team"] = "agent"
    team: str | None = Field(None, pattern=_ID)


class AgentStateOut(BaseModel):
    """An agent's presence."""

    agent: str
    team: str | None
    state: AgentState
    pause_code: str | None
    reason: str | None = Field(description="offline: phone_unregistered or logged_out")
    since: datetime | None = Field(description="when the state began; null: presence has not heard of the agent")
    call_id: str | None
    registered: bool | None = Field(description="the PBX's last word on the phone; null: not known yet")
    wrap_up_until: datetime | None


class AgentList(BaseModel):
    """Agents with their presence."""

    items: list[AgentStateOut]


class SpanOut(BaseModel):
    """A stretch of time in one state."""

    state: AgentState
    pause_code: str | None
    reason: str | None
    call_id: str | None
    started_at: datetime
    ended_at: datetime | None
    changed_by: str


class SpanList(BaseModel):
    """State history, newest first."""

    items: list[SpanOut]


class OccupancyRow(BaseModel):
    """Seconds per state of one agent or team."""

    model_config = ConfigDict(extra="allow")

    agent_id: str | None = None
    team: str | None = None
    logged_in_s: float
    available_s: float
    ringing_s: float
    on_call_s: float
    wrap_up_s: float
    paused_s: float
    offline_s: float
    paused_by_code: dict[str, float]
    occupancy: float | None


class OccupancyOut(BaseModel):
    """The occupancy report."""

    since: datetime = Field(alias="from")
    until: datetime = Field(alias="to")
    group_by: str
    items: list[OccupancyRow]


def agent_to_json(view: AgentView) -> dict[str, Any]:
    """The API form of an agent's presence."""
    p, row = view.presence, view.row
    in_call = p.state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
    return {
        "agent": view.user.id, "team": view.user.team, "state": p.state.value, "pause_code": p.pause_code,
        "reason": p.reason, "since": iso_or_none(row.since) if row else None,
        "call_id": row.call_id if row and in_call else None, "registered": row.registered if row else None,
        "wrap_up_until": iso_or_none(row.wrap_up_until) if row and p.state is AgentState.WRAP_UP else None,
    }


def span_to_json(span: AgentStateSpan) -> dict[str, Any]:
    """The API form of a history span."""
    return {"state": span.state, "pause_code": span.pause_code, "reason": span.reason, "call_id": span.call_id,
            "started_at": span.started_at.isoformat(), "ended_at": iso_or_none(span.ended_at),
            "changed_by": span.changed_by}
