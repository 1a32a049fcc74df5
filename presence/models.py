"""Agent presence: one row of facts and derived state per agent, and the history of its states."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AgentPresence(Base):
    """An agent's presence facts (``presence.states.AgentFacts``) and the state derived from them."""

    __tablename__ = "agent_presence"
    __table_args__ = (Index("ix_agent_presence_state_wrap_up", "state", "wrap_up_until"),)

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str | None] = mapped_column(String(64))
    # facts
    intent: Mapped[str] = mapped_column(String(16))
    pause_code: Mapped[str | None] = mapped_column(String(32))
    registered: Mapped[bool | None]
    device_state: Mapped[str | None] = mapped_column(String(20))
    device_at: Mapped[datetime | None]
    pbx: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(36))
    call_phase: Mapped[str | None] = mapped_column(String(16))
    wrap_up_until: Mapped[datetime | None]
    # derived
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


class AgentStateSpan(Base):
    """One stretch of time an agent spent in one state (``ended_at`` NULL: the current one)."""

    __tablename__ = "agent_state_history"
    __table_args__ = (Index("ix_agent_state_history_agent_started", "agent_id", "started_at"),
                      Index("ix_agent_state_history_started", "started_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    pause_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(36))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    changed_by: Mapped[str] = mapped_column(String(64))
