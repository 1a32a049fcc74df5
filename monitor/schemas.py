"""Request and response models of the monitoring API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.clock import iso_or_none
from monitor.models import MonitorSession


class MonitorMode(StrEnum):
    """How the supervisor joins: hears both sides; also talks to the agent; talks to both."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class SessionState(StrEnum):
    """Ringing the supervisor's phone, joined, or over."""

    RINGING = "ringing"
    ACTIVE = "active"
    ENDED = "ended"


class EndReason(StrEnum):
    """Why a session ended."""

    STOPPED = "stopped"  # ended through the API
    HUNG_UP = "hung_up"  # the supervisor's phone hung up
    CALL_ENDED = "call_ended"  # the monitored call ended
    NOT_ANSWERED = "not_answered"  # the supervisor's phone did not answer (or was offline, or refused)
    FAILED = "failed"  # the PBX could not be asked
    LOST = "lost"  # after an AMI reconnect the PBX no longer had the supervisor's leg


class MonitorRequest(BaseModel):
    """Start monitoring a live call from the caller's own phone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "listen"}]})

    mode: MonitorMode = Field(description="listen: hear both sides, unheard; whisper: the agent hears you, the "
                                          "customer does not; barge: both hear you")


class MonitorChange(BaseModel):
    """Change an active session's mode (the supervisor's phone stays connected)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "whisper"}]})

    mode: MonitorMode


class MonitorSessionOut(BaseModel):
    """A monitoring session of a call."""

    id: str
    call_id: str
    supervisor: str
    mode: MonitorMode
    state: SessionState
    created_at: datetime
    answered_at: datetime | None = Field(description="When the supervisor's phone answered and joined")
    ended_at: datetime | None
    end_reason: EndReason | None
    ended_by: str | None = Field(description="Who ended it through the API (null: the phone or the call)")
    mode_changes: int


class MonitorSessionList(BaseModel):
    """The monitoring sessions of a call, oldest first."""

    items: list[MonitorSessionOut]


def session_to_json(s: MonitorSession) -> dict[str, Any]:
    """The API representation of a session."""
    iso = iso_or_none
    return {"id": s.id, "call_id": s.call_id, "supervisor": s.supervisor_id, "mode": s.mode, "state": s.state,
            "created_at": iso(s.created_at), "answered_at": iso(s.answered_at), "ended_at": iso(s.ended_at),
            "end_reason": s.end_reason, "ended_by": s.ended_by, "mode_changes": s.mode_changes}
