"""Reads and changes clients' settings, inside the caller's walls; every change is audited."""

from __future__ import annotations

from audit.service import Actor, AuditService
from auth.scope import Scope
from auth.service import Principal
from clients.errors import NoSuchClient
from clients.models import ClientSettings, settings_of
from clients.schemas import ClientSettingsIn, settings_snapshot
from core.clock import Clock
from db.engine import Database


class ClientSettingsService:
    """``get`` and ``put`` of a client's settings (role checks are the HTTP routes')."""

    def __init__(self, *, db: Database, clock: Clock, audit: AuditService) -> None:
        self.db, self.clock, self.audit = db, clock, audit

    async def get(self, principal: Principal, client_id: str) -> ClientSettings:
        """The client's settings (its defaults when never set); another bank's client: NoSuchClient (404)."""
        _require_client(principal, client_id)
        async with self.db.read() as s:
            return await settings_of(s, client_id)

    async def put(self, principal: Principal, client_id: str, data: ClientSettingsIn, *,
                  actor: Actor) -> ClientSettings:
        """Store every setting; audited (``client_settings.changed``, before and after). The same settings
        again change and record nothing."""
        _require_client(principal, client_id)
        async with self.db.begin() as s:
            row = await s.get(ClientSettings, client_id)
            before = settings_snapshot(row) if row is not None else None
            if row is None:
                row = ClientSettings(client_id=client_id)
                s.add(row)
            after = {"pooling": data.pooling, "promise_grace_days": data.promise_grace_days,
                     "callback_team_grace_minutes": data.callback_team_grace_minutes,
                     "promise_tolerance_percent": f"{data.promise_tolerance_percent:.2f}"}
            if before == after:
                return row
            row.pooling, row.promise_grace_days = data.pooling, data.promise_grace_days
            row.callback_team_grace_minutes = data.callback_team_grace_minutes
            row.promise_tolerance_percent = data.promise_tolerance_percent
            row.updated_at, row.updated_by = self.clock.now(), actor.user_id[:64]
            await s.flush()
            await self.audit.record(s, actor=actor, action="client_settings.changed", target_type="client",
                                    target_id=client_id, client_id=client_id, reason=data.reason, before=before,
                                    after=settings_snapshot(row))
        return row


def _require_client(principal: Principal, client_id: str) -> None:
    if not Scope.of(principal).sees_client(client_id):
        raise NoSuchClient(f"no client {client_id}", details={"client": client_id})
