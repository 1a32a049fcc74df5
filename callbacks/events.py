"""Domain events of callbacks (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel

from callbacks.models import Callback
from core.events import EventData

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


class CallbackData(EventData):
    """A callback (``callback_payload``): whose, when, its state, where it came from and how it ended."""

    callback_id: str
    case_id: str | None
    client_id: str | None
    agent_id: str | None
    team: str | None
    due_at: AwareDatetime
    state: Literal["scheduled", "done"]
    source_call_id: str
    done_reason: Literal["connected", "disposed", "promise_kept"] | None
    done_call_id: str | None
    origin: str
    team_due_at: AwareDatetime | None
    handed_at: AwareDatetime | None


DATA: dict[str, type[BaseModel]] = dict.fromkeys(ALL, CallbackData)
"""Each callback event type's data model."""
