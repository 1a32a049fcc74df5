"""Request and response models of the campaigns API, and their serialisers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from campaigns.models import Campaign
from campaigns.service import Offer
from cases.models import CASE_STATUSES
from core.clock import iso_or_none

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_CLIENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class CampaignIn(BaseModel):
    """``POST /v1/campaigns``: a campaign over one client's cases."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(pattern=_CLIENT)
    name: str = Field(min_length=1, max_length=128)
    mode: Literal["preview", "progressive"] = Field("preview", description=(
        "preview: the agent asks for the next case and dials it; progressive: an available agent's next case is "
        "dialled after campaigns.progressive_preview_s"))
    batch_id: str | None = Field(None, max_length=64)
    statuses: list[Literal[CASE_STATUSES]] = Field(default_factory=lambda: ["active"], min_length=1)  # type: ignore[valid-type]
    agent: str | None = Field(None, pattern=_ID, description="only the cases assigned to this agent")
    busy_retry_s: int = Field(600, ge=60, le=86_400, description="a busy number is tried again after this")
    no_answer_retry_s: int = Field(3600, ge=60, le=604_800, description="an unanswered number, after this")


class SkipIn(BaseModel):
    """``POST /v1/agents/{agent}/next/skip``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=50)


class Progress(BaseModel):
    """Where a campaign stands."""

    cases: int
    left: int
    offered: int
    attempted: int
    contacted: int
    blocked: int
    next_scheduled_at: datetime | None
    agents: list[str]


class CampaignOut(BaseModel):
    """A campaign (with its progress when read alone)."""

    id: str
    client_id: str
    name: str
    mode: str
    state: Literal["draft", "running", "paused", "stopped"]
    selection: dict[str, Any]
    busy_retry_s: int
    no_answer_retry_s: int
    created_by: str
    created_at: datetime
    progress: Progress | None = None


class CampaignList(BaseModel):
    """Campaigns, newest first."""

    items: list[CampaignOut]


class OfferOut(BaseModel):
    """The case offered to the agent (``offer`` null: nothing to call now)."""

    offer: dict[str, Any] | None


def campaign_to_json(c: Campaign, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API form of a campaign."""
    body: dict[str, Any] = {
        "id": c.id, "client_id": c.client_id, "name": c.name, "mode": c.mode, "state": c.state,
        "selection": c.selection, "busy_retry_s": c.busy_retry_s, "no_answer_retry_s": c.no_answer_retry_s,
        "created_by": c.created_by, "created_at": c.created_at.isoformat()}
    if progress is not None:
        body["progress"] = {**progress, "next_scheduled_at": iso_or_none(progress["next_scheduled_at"])}
    return body


def offer_to_json(offer: Offer | None) -> dict[str, Any]:
    """The API form of an offer."""
    if offer is None:
        return {"offer": None}
    e = offer.entry
    return {"offer": {"campaign_id": e.campaign_id, "entry_id": e.id, "case_id": e.case_id, "number": offer.number,
                      "number_kind": offer.number_kind or None, "reason": offer.reason,
                      "callback_id": offer.callback_id, "lease_until": iso_or_none(e.lease_until),
                      "attempts": e.attempts}}
