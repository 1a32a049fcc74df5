"""A monitoring session: one supervisor's phone joined to one live call in a mode."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class MonitorSession(Base):
    """Who monitors which call, in which mode, from when to when; the PBX leg is ``monitor-<id>``."""

    __tablename__ = "monitor_sessions"
    __table_args__ = (
        Index("ix_monitor_sessions_call", "call_id", "created_at"),
        Index("ix_monitor_sessions_supervisor", "supervisor_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36))
    supervisor_id: Mapped[str] = mapped_column(String(64))
    supervisor_role: Mapped[str] = mapped_column(String(16))
    sip_user: Mapped[str] = mapped_column(String(64))
    pbx: Mapped[str] = mapped_column(String(32))
    # copied from the call: the walls of its events and of the audit trail
    client_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="ringing")  # ringing | active | ended
    channel: Mapped[str | None] = mapped_column(String(128))  # the supervisor's channel, from AMI
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))
    ended_by: Mapped[str | None] = mapped_column(String(64))
    hangup_cause: Mapped[int | None]
    mode_changes: Mapped[int] = mapped_column(default=0)
