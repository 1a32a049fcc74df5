"""Domain events of agent presence (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from core.events import EventData
from presence.models import AgentPresence
from presence.states import AgentState

AGENT_STATE_CHANGED = "agent.state_changed"

ALL = (AGENT_STATE_CHANGED,)


def presence_payload(row: AgentPresence, previous: str | None, call_id: str | None) -> dict[str, Any]:
    """The thin payload of a state change: who, from what, to what, since when, why."""
    return {
        "agent_id": row.agent_id, "team": row.team, "state": row.state, "previous_state": previous,
        "pause_code": row.pause_code if row.state == "paused" else None, "reason": row.reason,
        "since": row.since.isoformat(), "call_id": call_id, "registered": row.registered,
        "changed_by": row.updated_by,
    }


class AgentStateData(EventData):
    """``agent.state_changed``: who, from what, to what, since when, why."""

    agent_id: str
    team: str | None
    state: AgentState
    previous_state: AgentState | None
    pause_code: str | None = Field(description="Set while ``paused`` only")
    reason: str | None
    since: AwareDatetime
    call_id: str | None
    registered: bool | None = Field(description="Whether the agent's phone is registered (None: not known yet)")
    changed_by: str


DATA: dict[str, type[BaseModel]] = {AGENT_STATE_CHANGED: AgentStateData}
"""Each presence event type's data model."""
