"""Compliance tables: the append-only decision log, client policies, the do-not-call list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class ComplianceDecision(Base):
    """One gate decision, allowed or blocked; never updated or deleted (triggers refuse it)."""

    __tablename__ = "compliance_decisions"
    __table_args__ = (
        Index("ix_compliance_decisions_at", "at"),
        Index("ix_compliance_decisions_case_at", "case_id", "at"),
        Index("ix_compliance_decisions_number_at", "number", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # dial | check | pre_connect
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(36))
    client_id: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(20))
    call_id: Mapped[str | None] = mapped_column(String(36))
    allowed: Mapped[bool]
    code: Mapped[str | None] = mapped_column(String(32))
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    zones: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    next_allowed_at: Mapped[datetime | None]
    overridden: Mapped[bool] = mapped_column(default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    policy_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ClientPolicy(Base):
    """A client's (bank's) policy: a jurisdiction profile plus the client's own tightening."""

    __tablename__ = "compliance_policies"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    retention_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


#: the ``client_id`` of a do-not-call entry that binds every client
EVERY_CLIENT = ""


class DoNotCall(Base):
    """A number (exact) or prefix that a client's dials (``EVERY_CLIENT``: everyone's) may not reach."""

    __tablename__ = "do_not_call"

    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # exact | prefix
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True, default=EVERY_CLIENT,
                                           server_default=EVERY_CLIENT)
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
