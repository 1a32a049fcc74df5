"""Request and response models of the callbacks API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callbacks.models import Callback
from core.clock import iso_or_none
from core.schemas import Instant


class CallbackQuery(BaseModel):
    """``GET /v1/callbacks``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    view: Literal["mine", "team", "client"] = Field("mine", description="mine, my team's, or my clients'")
    state: Literal["scheduled", "done"] = "scheduled"
    due_before: Instant | None = Field(None, description="only callbacks due at or before this (overdue: now)")
    limit: int = Field(100, ge=1, le=1000)


class CallbackOut(BaseModel):
    """A callback."""

    id: str
    case_id: str | None = Field(description="None: an inbound caller whose number matches no case (see number)")
    client_id: str | None
    team: str | None
    agent: str | None = Field(description="None: the team's callback")
    number: str | None = Field(description="the number to call back (a missed inbound call's caller)")
    origin: Literal["disposition", "inbound"] = Field(
        description="disposition (an agent's callback_at) or inbound (a caller nobody could answer)")
    due_at: datetime
    state: str
    source_call_id: str
    created_at: datetime
    done_at: datetime | None
    done_reason: str | None = Field(description=(
        "connected (a call of the case was answered), disposed, or promise_kept (a late payment kept the promise "
        "it followed up)"))
    done_call_id: str | None
    team_due_at: datetime | None = Field(description="when it goes to the team if still scheduled (the client's "
                                                      "grace after due_at)")
    handed_at: datetime | None = Field(description="when it went to the team: its available agents are offered it")


class CallbackList(BaseModel):
    """Callbacks, due first."""

    items: list[CallbackOut]


def callback_to_json(cb: Callback) -> dict[str, Any]:
    """The API form of a callback."""
    return {"id": cb.id, "case_id": cb.case_id, "client_id": cb.client_id, "team": cb.team, "agent": cb.agent_id,
            "number": cb.number, "origin": cb.origin,
            "due_at": cb.due_at.isoformat(), "state": cb.state, "source_call_id": cb.source_call_id,
            "created_at": cb.created_at.isoformat(), "done_at": iso_or_none(cb.done_at),
            "done_reason": cb.done_reason, "done_call_id": cb.done_call_id, "team_due_at": iso_or_none(cb.team_due_at),
            "handed_at": iso_or_none(cb.handed_at)}
