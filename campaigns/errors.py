"""Errors of campaigns."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class NoSuchCampaign(NotFound):
    """No campaign with that id, or one of a client the caller does not serve."""

    code = "no-such-campaign"


class CampaignNotRunning(Conflict):
    """The campaign is not in a state that allows this (start a stopped one, join a stopped one...)."""

    code = "campaign-state-conflict"


class NoOffer(NotFound):
    """The agent holds no offered case to skip."""

    code = "no-offer"
