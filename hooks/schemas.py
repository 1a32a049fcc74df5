"""Request and response models of the webhook admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from core.pagination import Cursor
from core.schemas import JsonBool, whole_number
from hooks.models import Delivery, DeliveryAttempt, Subscription

DeliveryId = Annotated[int, Interval(ge=1, le=2**63 - 1), BeforeValidator(whole_number)]


class SubscriptionIn(BaseModel):
    """Create a subscription."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://cases.example.com/hooks/callguard", "event_types": ["call.ended", "case.*"],
         "description": "case system"}]})

    url: str = Field(min_length=8, max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=50, description="'*', 'call.*' or exact types")
    description: str = Field("", max_length=200)
    client: str | None = Field(None, min_length=1, max_length=64,
                               description="the client whose events it receives (default: the caller's only "
                                           "client; none for a global admin: every client's events)")
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class SubscriptionPatch(BaseModel):
    """Change a subscription; ``active: true`` re-queues what was parked while it was disabled."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=8, max_length=2048)
    event_types: list[str] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=200)
    active: JsonBool | None = None
    rotate_secret: JsonBool = Field(False, description="add a new secret (shown once); all sign until dropped")
    drop_old_secrets: JsonBool = False
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class RemovalQuery(BaseModel):
    """Why a subscription is deleted (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class SubscriptionOut(BaseModel):
    """A subscription (secrets never shown, except ``secret`` once after creation or rotation)."""

    id: str
    client: str | None
    url: str
    description: str
    event_types: list[str]
    active: bool
    disabled_reason: str | None
    created_by: str
    created_at: datetime
    secret_count: int
    secret: str | None = None


class DeliveryOut(BaseModel):
    """One outbox message of one subscription."""

    id: int
    webhook_id: str
    subscription_id: str
    event_id: str
    event_type: str
    ordering_key: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class AttemptOut(BaseModel):
    """One HTTP attempt."""

    attempt_no: int
    at: datetime
    outcome: str
    status: int | None
    duration_ms: int
    response_excerpt: str
    error: str | None


class DeliveryQuery(BaseModel):
    """Filters of the delivery list (newest first)."""

    subscription_id: str | None = None
    state: str | None = Field(None, pattern="^(pending|delivered|dead|disabled)$")
    event_type: str | None = None
    before_id: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(50, ge=1, le=500)


class ReplayIn(BaseModel):
    """Replay dead or disabled deliveries (by id), or all dead ones of a subscription."""

    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[DeliveryId] = Field(default_factory=list, max_length=10_000)
    subscription_id: str | None = None


class SubscriptionQuery(BaseModel):
    """Paging of the subscription list (oldest first)."""

    model_config = ConfigDict(extra="forbid")

    cursor: Cursor | None = None
    limit: int = Field(100, ge=1, le=1000)


class SubscriptionList(BaseModel):
    """Subscriptions, oldest first (without secrets, at most ``limit``); ``next_cursor`` when there may be more."""

    items: list[SubscriptionOut]
    next_cursor: str | None = None


class DeliveryPage(BaseModel):
    """Deliveries newest first; ``next_before_id`` pages on."""

    items: list[DeliveryOut]
    next_before_id: int | None


class AttemptList(BaseModel):
    """Every attempt of a delivery."""

    items: list[AttemptOut]


class ReplayOut(BaseModel):
    """How many deliveries were queued again."""

    queued: int
def subscription_json(sub: Subscription, secret: str | None = None) -> dict[str, object]:
    """The API form of a subscription (secrets never, except a just-created one)."""
    return {"id": sub.id, "client": sub.client_id, "url": sub.url, "description": sub.description,
            "event_types": sub.event_types,
            "active": sub.active, "disabled_reason": sub.disabled_reason, "created_by": sub.created_by,
            "created_at": sub.created_at, "secret_count": len(sub.secrets), "secret": secret}


def subscription_snapshot(sub: Subscription) -> dict[str, object]:
    """The audited form of a subscription: everything but the secrets (their count only)."""
    return {"client": sub.client_id, "url": sub.url, "description": sub.description,
            "event_types": list(sub.event_types), "active": sub.active, "disabled_reason": sub.disabled_reason,
            "secret_count": len(sub.secrets), "deleted": sub.deleted_at is not None}


def delivery_json(d: Delivery) -> dict[str, object]:
    """The API form of a delivery."""
    return {"id": d.id, "webhook_id": d.webhook_id, "subscription_id": d.subscription_id, "event_id": d.event_id,
            "event_type": d.event_type, "ordering_key": d.ordering_key, "state": d.state, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at, "last_status": d.last_status, "last_error": d.last_error,
            "created_at": d.created_at, "finished_at": d.finished_at}


def attempt_json(a: DeliveryAttempt) -> dict[str, object]:
    """The API form of an attempt."""
    return {"attempt_no": a.attempt_no, "at": a.at, "outcome": a.outcome, "status": a.status,
            "duration_ms": a.duration_ms, "response_excerpt": a.response_excerpt, "error": a.error}
