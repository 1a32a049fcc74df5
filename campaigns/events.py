"""Domain events of campaigns (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel

from campaigns.models import Campaign, CampaignEntry
from core.events import EventData

CAMPAIGN_CHANGED = "campaign.state_changed"
CASE_OFFERED = "campaign.case_offered"

ALL = (CAMPAIGN_CHANGED, CASE_OFFERED)


def campaign_payload(c: Campaign) -> dict[str, Any]:
    """The thin payload of a campaign's state change."""
    return {"campaign_id": c.id, "client_id": c.client_id, "state": c.state, "mode": c.mode}


def offer_payload(e: CampaignEntry, reason: str) -> dict[str, Any]:
    """The thin payload of a case offered to an agent (preview): ids, why it is next, the lease."""
    return {"campaign_id": e.campaign_id, "entry_id": e.id, "case_id": e.case_id, "agent_id": e.claimed_by,
            "reason": reason, "lease_until": e.lease_until.isoformat() if e.lease_until else None}


class CampaignData(EventData):
    """``campaign.state_changed``."""

    campaign_id: str
    client_id: str
    state: Literal["draft", "running", "paused", "stopped"]
    mode: Literal["preview", "progressive"]


class CaseOfferedData(EventData):
    """``campaign.case_offered``: the case offered to an agent, why it is next, the lease."""

    campaign_id: str
    entry_id: str
    case_id: str
    agent_id: str | None
    reason: Literal["callback", "first_call", "priority"]
    lease_until: AwareDatetime | None


DATA: dict[str, type[BaseModel]] = {CAMPAIGN_CHANGED: CampaignData, CASE_OFFERED: CaseOfferedData}
"""Each campaign event type's data model."""
