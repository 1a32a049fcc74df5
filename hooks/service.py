"""Webhook use cases: manage subscriptions, read deliveries and attempts, replay failed ones.

Every method takes the caller's ``Scope``: a subscription belongs to one client, and a subscription
(with its deliveries and attempts) of a client outside the scope answers exactly like a missing one.
Platform subscriptions (no client) are a global admin's. The outbox writer and the dispatcher task are
wired by ``app.compose``.

Every subscription change is audited in its transaction (``hook_subscription.created``, ``.updated``,
``.deleted``; never a secret). Deleting a subscription keeps it and its delivery history: it is disabled
(pending deliveries parked as ``disabled``), its secrets dropped, and it is listed and changeable no more;
its deliveries and their attempts stay readable and are never replayed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor, AuditService
from auth.scope import Scope
from config.settings import HookSettings
from core.clock import Clock
from core.pagination import after_ascending, decode_cursor, encode_cursor, where_equal
from db.engine import Database
from hooks.dispatcher import disable_subscription
from hooks.errors import ClientRequired, NoSuchClient, NoSuchDelivery, NoSuchSubscription
from hooks.models import Delivery, DeliveryAttempt, Subscription
from hooks.outbox import check_patterns
from hooks.schemas import subscription_snapshot
from hooks.signing import generate_secret
from hooks.targets import resolve_and_check

REPLAYABLE = ("dead", "disabled")


class HookService:
    """Subscriptions and their deliveries, for the admin API."""

    def __init__(self, *, db: Database, settings: HookSettings, clock: Clock,
                 wake: Callable[[], None] | None = None, audit: AuditService | None = None) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self._wake = wake or (lambda: None)
        self.audit = audit if audit is not None else AuditService(db=db, clock=clock)

    async def _check_url(self, url: str) -> None:
        await resolve_and_check(url, allow_private=self.settings.allow_private_targets)

    async def create(self, scope: Scope, *, url: str, event_types: list[str], description: str,
                     actor: Actor, client: str | None = None, reason: str | None = None) -> tuple[Subscription, str]:
        """Create an active subscription of ``client``; returns it and its secret (shown this once).

        ``client`` defaults to the caller's only client; a global admin without one makes a platform
        subscription (every client's events). A client outside the scope is 404 ``no-such-client``.
        """
        client_id = subscription_client(scope, client)
        patterns = check_patterns(event_types)
        await self._check_url(url)
        secret = generate_secret()
        now = self.clock.now()
        sub = Subscription(url=url, event_types=patterns, secrets=[secret], description=description,
                           client_id=client_id,
                           active=True, created_by=actor.user_id[:64], created_at=now, updated_at=now)
        async with self.db.begin() as s:
            s.add(sub)
            await s.flush()
            await self.audit.record(s, actor=actor, action="hook_subscription.created",
                                    target_type="hook_subscription", target_id=sub.id, client_id=client_id,
                                    reason=reason, after=subscription_snapshot(sub))
        return sub, secret

    async def subscriptions(self, scope: Scope, *, cursor: str | None = None, limit: int = 100
                            ) -> tuple[list[Subscription], str | None]:
        """The scope's subscriptions (not deleted), oldest first: one page after ``cursor`` and the next cursor."""
        q = scope.where_client(select(Subscription).where(Subscription.deleted_at.is_(None)),
                               Subscription.client_id)
        if cursor:
            q = q.where(after_ascending(Subscription.created_at, Subscription.id, decode_cursor(cursor)))
        q = q.order_by(Subscription.created_at, Subscription.id).limit(limit)
        async with self.db.read() as s:
            rows = list((await s.scalars(q)).all())
        return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == limit else None

    async def get(self, scope: Scope, subscription_id: str) -> Subscription:
        """One subscription of the scope."""
        async with self.db.read() as s:
            return await _subscription(s, scope, subscription_id)

    async def update(self, scope: Scope, subscription_id: str, *, actor: Actor, url: str | None = None,
                     event_types: list[str] | None = None, description: str | None = None,
                     active: bool | None = None, rotate_secret: bool = False,
                     drop_old_secrets: bool = False, reason: str | None = None) -> tuple[Subscription, str | None]:
        """Change a subscription; returns it and the new secret when one was added (audited when it changed)."""
        if url is not None:
            await self._check_url(url)
        patterns = check_patterns(event_types) if event_types is not None else None
        new_secret = generate_secret() if rotate_secret else None
        now = self.clock.now()
        requeued = 0
        async with self.db.begin() as s:
            sub = await _subscription(s, scope, subscription_id, lock=not self.db.is_sqlite)
            before = subscription_snapshot(sub)
            if url is not None:
                sub.url = url
            if patterns is not None:
                sub.event_types = patterns
            if description is not None:
                sub.description = description
            if new_secret is not None:
                sub.secrets = [new_secret, *sub.secrets]
            if drop_old_secrets:
                sub.secrets = sub.secrets[:1]
            if active is True and not sub.active:
                sub.active, sub.disabled_reason, sub.disabled_at = True, None, None
                res = await s.execute(update(Delivery).where(Delivery.subscription_id == sub.id,
                                                             Delivery.state == "disabled")
                                      .values(state="pending", attempts=0, next_attempt_at=now, finished_at=None))
                requeued = int(res.rowcount or 0)  # type: ignore[attr-defined]
            elif active is False and sub.active:
                await disable_subscription(s, sub.id, reason="disabled by an admin", now=now)
                await s.refresh(sub)
            sub.updated_at = now
            after = subscription_snapshot(sub)
            if after != before or new_secret is not None:
                changes = {"rotated_secret": new_secret is not None, "requeued": requeued}
                await self.audit.record(s, actor=actor, action="hook_subscription.updated",
                                        target_type="hook_subscription", target_id=sub.id, client_id=sub.client_id,
                                        reason=reason, before=before, after={**after, **changes})
        if requeued:
            self._wake()
        return sub, new_secret

    async def delete(self, scope: Scope, subscription_id: str, *, actor: Actor, reason: str | None = None) -> None:
        """Delete a subscription of the scope, keeping it and its delivery history (see the module docstring)."""
        now = self.clock.now()
        async with self.db.begin() as s:
            sub = await _subscription(s, scope, subscription_id, lock=not self.db.is_sqlite)
            before = subscription_snapshot(sub)
            await disable_subscription(s, sub.id, reason="deleted", now=now)
            await s.refresh(sub)
            sub.secrets, sub.deleted_at, sub.deleted_by, sub.updated_at = [], now, actor.user_id[:64], now
            await s.flush()
            await self.audit.record(s, actor=actor, action="hook_subscription.deleted",
                                    target_type="hook_subscription", target_id=sub.id, client_id=sub.client_id,
                                    reason=reason, before=before, after=subscription_snapshot(sub))

    async def deliveries(self, scope: Scope, *, subscription_id: str | None = None, state: str | None = None,
                         event_type: str | None = None, before_id: int | None = None,
                         limit: int = 50) -> list[Delivery]:
        """Deliveries newest first (``state='dead'`` is the dead-letter list)."""
        q = where_equal(select(Delivery), (Delivery.subscription_id, subscription_id), (Delivery.state, state),
                        (Delivery.event_type, event_type))
        if before_id:
            q = q.where(Delivery.id < before_id)
        q = q.where(Delivery.subscription_id.in_(_scoped_ids(scope))) if scope.clients is not None else q
        async with self.db.read() as s:
            return list((await s.scalars(q.order_by(Delivery.id.desc()).limit(limit))).all())

    async def attempts(self, scope: Scope, delivery_id: int) -> list[DeliveryAttempt]:
        """Every attempt of a delivery of the scope, in order."""
        q = select(Delivery.id).where(Delivery.id == delivery_id)
        if scope.clients is not None:
            q = q.where(Delivery.subscription_id.in_(_scoped_ids(scope)))
        async with self.db.read() as s:
            if await s.scalar(q) is None:
                raise NoSuchDelivery(f"no delivery {delivery_id}", details={"delivery_id": delivery_id})
            return list((await s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                         .order_by(DeliveryAttempt.id))).all())

    async def replay(self, scope: Scope, delivery_ids: list[int] | None = None, *,
                     subscription_id: str | None = None) -> int:
        """Queue dead/disabled deliveries again (same ``webhook-id``); returns how many were queued.

        A replayed message is sent after the key's pending ones: order is kept among pending messages, but
        a replay is by nature later than what was already delivered.
        """
        now = self.clock.now()
        q = update(Delivery).where(Delivery.state.in_(REPLAYABLE))
        if delivery_ids:
            q = q.where(Delivery.id.in_(delivery_ids))
        elif subscription_id:
            q = q.where(Delivery.subscription_id == subscription_id, Delivery.state == "dead")
        else:
            return 0
        if scope.clients is not None:
            q = q.where(Delivery.subscription_id.in_(_scoped_ids(scope)))
        q = q.where(Delivery.subscription_id.in_(select(Subscription.id).where(Subscription.deleted_at.is_(None))))
        async with self.db.begin() as s:
            res = await s.execute(q.values(state="pending", attempts=0, next_attempt_at=now, finished_at=None,
                                           leased_until=None, leased_by=None))
        count = int(res.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            self._wake()
        return count


def subscription_client(scope: Scope, client: str | None) -> str | None:
    """The client of a new subscription asked for ``client`` by ``scope`` (see ``HookService.create``)."""
    if client is None:
        if scope.clients is None:
            return None
        if len(scope.clients) != 1:
            raise ClientRequired("name the client whose events the subscription receives",
                                 details={"clients": sorted(scope.clients)})
        return next(iter(scope.clients))
    if not scope.sees_client(client):
        raise NoSuchClient(f"no client {client}", details={"client": client})
    return client


def _scoped_ids(scope: Scope) -> Select[str]:
    """SQL: the ids of the scope's subscriptions."""
    return select(Subscription.id).where(scope.client_clause(Subscription.client_id))


async def _subscription(s: AsyncSession, scope: Scope, subscription_id: str, *,
                        lock: bool = False) -> Subscription:
    """The subscription, or ``NoSuchSubscription`` when it is missing, deleted or outside the scope."""
    q = scope.where_client(select(Subscription).where(Subscription.id == subscription_id,
                                                      Subscription.deleted_at.is_(None)), Subscription.client_id)
    if lock:
        q = q.with_for_update()
    sub = (await s.scalars(q)).first()
    if sub is None:
        raise NoSuchSubscription(f"no subscription {subscription_id}", details={"subscription_id": subscription_id})
    return sub
