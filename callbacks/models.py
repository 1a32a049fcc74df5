"""Scheduled callbacks: a disposition's ``callback_at`` becomes a row owned by the agent who took it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Index, String, exists
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Callback(Base):
    """A promise to call a case (or an inbound caller) back at ``due_at``; ``scheduled`` until a call of the case
    connects or is disposed."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_state_due", "state", "due_at"),
                      Index("ix_callbacks_agent_state_due", "agent_id", "state", "due_at"),
                      Index("ix_callbacks_case_state", "case_id", "state"),
                      Index("ix_callbacks_state_team_due", "state", "team_due_at"),
                      Index("ix_callbacks_team_state_handed", "team", "state", "handed_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(36))  # None: an unknown caller's (``number``)
    client_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))  # None: the team's
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # scheduled | done
    source_call_id: Mapped[str] = mapped_column(String(36))
    number: Mapped[str | None] = mapped_column(String(20))  # the number to call back (an inbound call's caller)
    origin: Mapped[str] = mapped_column(String(16), default="disposition", server_default="disposition")
    # disposition (an agent's callback_at) | inbound (a caller nobody could answer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    done_at: Mapped[datetime | None]
    done_reason: Mapped[str | None] = mapped_column(String(16))  # connected | disposed | promise_kept
    done_call_id: Mapped[str | None] = mapped_column(String(36))
    # due_at + the client's grace: still scheduled then, it is handed to the team (``handed_at``), whose available
    # agents are offered it (and see its case) like the owner; None: a callback from before the grace existed
    team_due_at: Mapped[datetime | None]
    handed_at: Mapped[datetime | None]


def handed_clause(case_id: object) -> ColumnElement[bool]:
    """SQL: the case in column ``case_id`` has a scheduled callback handed to its team (for ``Scope.case_clause``)."""
    return exists().where(Callback.case_id == case_id, Callback.state == "scheduled",
                          Callback.handed_at.is_not(None))
