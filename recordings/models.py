"""Recording tables: the recording row (from the moment recording starts), paused intervals,
reviews, the access log, completeness gaps, the store scan's position and probe results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Recording(Base):
    """One call's recording; ``call_id`` is also the spool file name stem (``<call id>.done``)."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_state_next", "state", "next_attempt_at"),
        Index("ix_recordings_agent_started", "agent_id", "started_at"),
        Index("ix_recordings_case", "case_id"),
        Index("ix_recordings_client_started", "client_id", "started_at"),
        Index("ix_recordings_started", "started_at"),
        Index("ix_recordings_retain", "state", "retain_until"),
        Index("ix_recordings_key", "key"),  # the store scan asks which listed keys have a row
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="call")  # call | probe | orphan
    state: Mapped[str] = mapped_column(String(12))
    case_id: Mapped[str | None] = mapped_column(String(36))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))  # the call's end reason
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    call_ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    channels: Mapped[int | None]
    format: Mapped[str | None] = mapped_column(String(8))
    content_type: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(200))
    version_id: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigId)
    sha256: Mapped[str | None] = mapped_column(String(64))
    retain_until: Mapped[datetime | None]
    legal_hold: Mapped[bool] = mapped_column(default=False)
    hold_synced: Mapped[bool] = mapped_column(default=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    stored_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingPause(Base):
    """One paused interval (MixMonitorMute), with who paused and why (PCI DSS 3.3.1)."""

    __tablename__ = "recording_pauses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(String(36), index=True)
    paused_at: Mapped[datetime]
    paused_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    resumed_at: Mapped[datetime | None]
    resumed_by: Mapped[str | None] = mapped_column(String(64))


class RecordingReview(Base):
    """A QA review of a recording."""

    __tablename__ = "recording_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(String(36), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    score: Mapped[int]
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingAccess(Base):
    """Append-only access log: who read what, when, from where, and the result."""

    __tablename__ = "recording_access"
    __table_args__ = (Index("ix_recording_access_at", "at"), Index("ix_recording_access_rec", "recording_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    remote: Mapped[str | None] = mapped_column(String(64))
    recording_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(12))  # granted | denied | not_found
    detail: Mapped[str | None] = mapped_column(Text)


class RecordingGap(Base):
    """A completeness finding: an answered call without a stored recording, a file without a call, or an
    object in the store without a recording row."""

    __tablename__ = "recording_gaps"
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_recording_gaps_kind_ref"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # missing | orphan | store-orphan
    ref: Mapped[str] = mapped_column(String(1024))  # call id / spool id / store key (S3: <= 1024 bytes)
    location: Mapped[str] = mapped_column(String(8))  # db | spool | store
    detail: Mapped[str] = mapped_column(Text, default="")
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class RecordingStoreScan(Base):
    """How far the scan of one store for objects without a recording row has got (one row per location).

    ``cursor`` is the store's opaque position (the S3 continuation token), ``None`` at the start of a
    pass; ``seq`` grows with every page, so two instances that read the same position cannot both
    advance it (the second one's compare-and-set finds ``seq`` moved and its page is dropped).
    """

    __tablename__ = "recording_store_scans"

    location: Mapped[str] = mapped_column(String(255), primary_key=True)  # RecordingStore.location
    cursor: Mapped[str | None] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    passes: Mapped[int] = mapped_column(default=0)  # complete passes over the store
    pass_started_at: Mapped[datetime | None]
    pass_keys: Mapped[int] = mapped_column(BigId, default=0)  # keys examined so far in this pass
    last_pass_finished_at: Mapped[datetime | None]
    last_pass_keys: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProbeResult(Base):
    """One recording-probe run (synthetic call, tones checked on their channels)."""

    __tablename__ = "recording_probes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12))  # running | passed | failed | unavailable
    recording_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
