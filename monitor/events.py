"""Domain events of monitoring sessions (steps of the call they monitor; public webhook and stream types).

They carry the call's client and team (the same walls as the call's events) but no ``agent_id``: an agent
never sees, on the stream or its webhooks, that it is being listened to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.events import EventData
from monitor.models import MonitorSession
from monitor.schemas import EndReason, MonitorMode, SessionState

MONITOR_STARTED = "call.monitor_started"
MONITOR_JOINED = "call.monitor_joined"
MONITOR_MODE_CHANGED = "call.monitor_mode_changed"
MONITOR_ENDED = "call.monitor_ended"

ALL = (MONITOR_STARTED, MONITOR_JOINED, MONITOR_MODE_CHANGED, MONITOR_ENDED)


def session_payload(session: MonitorSession, **extra: Any) -> dict[str, Any]:
    """The thin payload of a monitoring event (ids, mode and state only)."""
    return {"session_id": session.id, "call_id": session.call_id, "supervisor_id": session.supervisor_id,
            "mode": session.mode, "state": session.state, "end_reason": session.end_reason, **extra}


class MonitorData(EventData):
    """A monitoring session's ids, mode and state (``session_payload``)."""

    session_id: str
    call_id: str
    supervisor_id: str
    mode: MonitorMode
    state: SessionState
    end_reason: EndReason | None


class MonitorModeChangedData(MonitorData):
    """``call.monitor_mode_changed``: and the mode before."""

    previous_mode: MonitorMode


DATA: dict[str, type[BaseModel]] = {MONITOR_STARTED: MonitorData, MONITOR_JOINED: MonitorData,
                                    MONITOR_MODE_CHANGED: MonitorModeChangedData, MONITOR_ENDED: MonitorData}
"""Each monitoring event type's data model."""
