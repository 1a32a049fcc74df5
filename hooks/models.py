"""Tables of outbound webhooks: subscriptions, the delivery outbox (one row per event and subscription)
and the log of every attempt.

Secrets are stored in clear: HMAC signing needs the key itself (a hash would not do). Protect the
database (and its backups) accordingly; the API shows a secret once, at creation or rotation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, new_id, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
DELIVERY_STATES = ("pending", "delivered", "dead", "disabled")


class Subscription(Base):
    """A receiver of domain events: URL, event type patterns (``call.*``, ``*``), signing secrets.

    ``client_id`` is the one client (bank) whose events it receives. ``None`` is a platform
    subscription of a global admin: it receives every client's events and those of no client (rows
    made before subscriptions had a client stay so, visible and manageable by global admins only).
    """

    __tablename__ = "hook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secrets: Mapped[list[str]] = mapped_column(JSON)  # newest first; all sign while rotating
    active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # deleting a subscription keeps it (and its delivery history): it is disabled, its secrets dropped, and
    # it is no longer listed or changeable; its deliveries and attempts stay readable
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(64))


class Delivery(Base):
    """The outbox: one message of one event to one subscription, delivered in order per ordering key."""

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id", name="uq_hook_deliveries_event_subscription"),
        Index("ix_hook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_hook_deliveries_key", "subscription_id", "ordering_key", "event_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)  # stable across retries and replays
    subscription_id: Mapped[str] = mapped_column(ForeignKey("hook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[int] = mapped_column(BigId)  # domain_events.id: the order of events
    event_type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str | None] = mapped_column(String(80))  # case:<id> or call:<id>
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(128))
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery (status, duration, response excerpt, error)."""

    __tablename__ = "hook_delivery_attempts"
    __table_args__ = (Index("ix_hook_delivery_attempts_delivery", "delivery_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("hook_deliveries.id", ondelete="CASCADE"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(12))
    status: Mapped[int | None]
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(300))
    instance: Mapped[str | None] = mapped_column(String(128))
