"""The table of release requests: one person asks for a release, another decides (kept after the decision)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

#: what a request releases: a case's legal hard stop, a case number's do-not-call status, a recording's legal hold
KINDS = ("case_hold", "do_not_call_number", "recording_legal_hold")
#: stored states; a pending request past ``expires_at`` reads as ``expired``
STATES = ("pending", "approved", "rejected")


class ReleaseRequest(Base):
    """A request to lift one stop, by one person; approved (and carried out) or rejected by another.

    ``subject`` names what is released (``case_hold:<case>:<reason>``, ``do_not_call_number:<case>:<number>``,
    ``recording_legal_hold:<recording>``): at most one pending request per subject.
    """

    __tablename__ = "release_requests"
    __table_args__ = (
        Index("ix_release_requests_client_at", "client_id", "requested_at", "id"),
        Index("ix_release_requests_subject_state", "subject", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(20))
    recording_id: Mapped[str | None] = mapped_column(String(36), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_role: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_role: Mapped[str | None] = mapped_column(String(20))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
