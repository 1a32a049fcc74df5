"""The domain event log: every domain event is a row, written in the transaction of the change it reports.

It is the outbox of the webhooks and the source of the live event stream, on every instance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class DomainEventRow(Base):
    """One domain event (``call.answered``, ``recording.stored``...), append-only."""

    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_call", "call_id"), Index("ix_domain_events_case", "case_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    call_id: Mapped[str | None] = mapped_column(String(36))
    case_id: Mapped[str | None] = mapped_column(String(36))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))  # the call's or case's team (the live stream's wall)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
