"""The outbox writer: for every recorded domain event, one Delivery per matching active subscription,
inserted in the transaction of the change the event reports (so an event is delivered iff it happened).
A transaction that wrote deliveries wakes the dispatcher once it commits; one that wrote none does not
(most events match no subscription, and a wake costs the dispatcher a claiming transaction).

Subscriptions are read once per transaction (cached in ``session.info``), never across transactions:
a subscription created or disabled is seen by the very next event, on every instance.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import after_commit
from hooks.errors import BadEventPattern
from hooks.models import Delivery, Subscription

_CACHE_KEY = "hooks.active_subscriptions"
_NAMESPACE = uuid.UUID("5b2d3f9e-1c0a-4f7e-9a55-6a1f3e0b8c21")


def check_patterns(patterns: list[str]) -> list[str]:
    """Validate event type patterns: ``*``, ``prefix.*`` or an exact type like ``call.ended``."""
    if not patterns:
        raise BadEventPattern("at least one event type pattern is needed")
    for p in patterns:
        body = p[:-2] if p.endswith(".*") else p
        if p != "*" and (not body or "*" in body or len(p) > 64 or " " in p):
            raise BadEventPattern(f"bad event type pattern {p!r}", details={"pattern": p})
    return sorted(set(patterns))


def matches(patterns: list[str], event_type: str) -> bool:
    """True when ``event_type`` matches one of the patterns (``call.*`` matches ``call.ended``)."""
    for p in patterns:
        if p in ("*", event_type):
            return True
        if p.endswith(".*") and event_type.startswith(p[:-1]):
            return True
    return False


def receives(subscription_client: str | None, event_client: str | None) -> bool:
    """Does a subscription of ``subscription_client`` receive an event of ``event_client``?

    A client's subscription receives only that client's events; a platform subscription (no client,
    a global admin's) receives every event.
    """
    return subscription_client is None or subscription_client == event_client


def ordering_key(row: DomainEventRow) -> str | None:
    """Deliveries with the same key (per subscription) are sent in event order: the case, else the call."""
    if row.case_id:
        return f"case:{row.case_id}"
    if row.call_id:
        return f"call:{row.call_id}"
    return None


def webhook_id(event_id: str, subscription_id: str) -> str:
    """The ``webhook-id`` of an event for a subscription: stable across retries, replays and instances."""
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{event_id}:{subscription_id}").hex


def event_body(row: DomainEventRow) -> bytes:
    """The Standard Webhooks style JSON body: ``{"type", "timestamp", "data"}`` with a thin payload."""
    data: dict[str, Any] = dict(row.payload or {})
    data["event_id"] = row.event_id
    for key in ("case_id", "call_id", "agent_id", "client_id"):
        value = getattr(row, key)
        if value is not None:
            data.setdefault(key, value)
    doc = {"type": row.type, "timestamp": row.occurred_at.isoformat(), "data": data}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


async def active_subscriptions(session: AsyncSession) -> list[tuple[str, list[str], str | None]]:
    """(id, patterns, client) of active subscriptions, read once per transaction."""
    cached: list[tuple[str, list[str], str | None]] | None = session.info.get(_CACHE_KEY)
    if cached is None:
        rows = await session.execute(select(Subscription.id, Subscription.event_types, Subscription.client_id)
                                     .where(Subscription.active.is_(True)))
        cached = [(r.id, list(r.event_types), r.client_id) for r in rows]
        session.info[_CACHE_KEY] = cached
    return cached


def forget_subscriptions(session: AsyncSession) -> None:
    """Drop the per-transaction cache (after a subscription changes inside the same transaction)."""
    session.info.pop(_CACHE_KEY, None)


class Outbox:
    """Registered with the EventLog: fans every event out to the matching subscriptions; ``wake`` (the
    dispatcher's) is told after the commit of a transaction that wrote deliveries."""

    def __init__(self, clock: Clock, *, wake: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.wake = wake

    def install(self, events: EventLog) -> None:
        """Register the writer with ``events``."""
        events.add_outbox_writer(self.write)

    async def write(self, session: AsyncSession, row: DomainEventRow) -> None:
        """Insert the deliveries of ``row`` in the caller's transaction."""
        subs = [sid for sid, patterns, client in await active_subscriptions(session)
                if receives(client, row.client_id) and matches(patterns, row.type)]
        if not subs:
            return
        now: datetime = self.clock.now()
        key = ordering_key(row)
        await session.execute(insert(Delivery), [
            {"webhook_id": webhook_id(row.event_id, sid), "subscription_id": sid, "event_id": row.event_id,
             "event_seq": row.id, "event_type": row.type, "ordering_key": key, "state": "pending",
             "attempts": 0, "next_attempt_at": now, "created_at": now}
            for sid in subs
        ])
        if self.wake is not None:
            after_commit(session, self, self.wake)
