"""Domain events of callbacks (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any

from callbacks.models import Callback

CALLBACK_SCHEDULED = "callback.scheduled"
CALLBACK_DONE = "callback.done"
CALLBACK_HANDED_TO_TEAM = "callback.handed_to_team"

ALL = (CALLBACK_SCHEDULED, CALLBACK_DONE, CALLBACK_HANDED_TO_TEAM)


def callback_payload(cb: Callback) -> dict[str, Any]:
    """The thin payload of a callback event (ids and times only)."""
    return {"callback_id": cb.id, "case_id": cb.case_id, "client_id": cb.client_id, "agent_id": cb.agent_id,
            "team": cb.team, "due_at": cb.due_at.isoformat(), "state": cb.state, "source_call_id": cb.source_call_id,
            "done_reason": cb.done_reason, "done_call_id": cb.done_call_id, "origin": cb.origin,
            "team_due_at": cb.team_due_at.isoformat() if cb.team_due_at else None,
            "handed_at": cb.handed_at.isoformat() if cb.handed_at else None}
