"""Domain events of agent presence (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any

from presence.models import AgentPresence

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
