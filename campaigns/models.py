"""Campaigns: a client's selection of cases, the agents working it, one entry per case with its schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Campaign(Base):
    """A campaign of one client: its selection, its mode and its state (draft, running, paused, stopped)."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))  # preview
    state: Mapped[str] = mapped_column(String(16))
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    busy_retry_s: Mapped[int]
    no_answer_retry_s: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CampaignAgent(Base):
    """An agent working a campaign (joined until it leaves)."""

    __tablename__ = "campaign_agents"

    campaign_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    joined_at: Mapped[datetime]


class CampaignEntry(Base):
    """One case of a campaign: ``pending`` from ``next_at`` on, ``offered`` to one agent under a lease, ``done``
    once contacted, ``blocked`` for good (a hard hold, no number left)."""

    __tablename__ = "campaign_entries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "case_id", name="uq_campaign_entries_campaign_case"),
        # the pick: pending entries of a campaign, due, first-call deadline first, then the client's priority
        Index("ix_campaign_entries_pick", "campaign_id", "state", "first_call_by", "priority", "next_at"),
        Index("ix_campaign_entries_claimed", "claimed_by", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    next_at: Mapped[datetime]
    # the case's first-call deadline while it was never called (received + 2 days); NULL once called: sorts last
    first_call_by: Mapped[datetime | None]
    priority: Mapped[int]  # higher first (days overdue)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    number: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int]
    last_result: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]
