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
        # the pick, read in this index's order (no sort, no scan): a campaign's pending entries of one agent,
        # never-called ones first by their first-call deadline, then the client's priority (migration b7e5e0a00017)
        Index("ix_campaign_entries_next", "campaign_id", "state", "assigned_agent", "tier", "first_call_by",
              "priority", "next_at", "id"),
        Index("ix_campaign_entries_claimed", "claimed_by", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    assigned_agent: Mapped[str | None] = mapped_column(String(64))  # the case's agent when it was selected
    state: Mapped[str] = mapped_column(String(16))
    next_at: Mapped[datetime]
    # the case's first-call deadline while it was never called (received + 2 days); NULL once called: sorts last
    first_call_by: Mapped[datetime | None]
    tier: Mapped[int] = mapped_column(server_default="0")  # 0: never called (by first_call_by), 1: called
    priority: Mapped[int]  # sorts ascending: minus the days overdue (the most overdue first)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    number: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int]
    last_result: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]
