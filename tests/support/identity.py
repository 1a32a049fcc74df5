"""The identity services a test container needs (audit trail, authenticator, user admin)."""

from __future__ import annotations

from typing import Any

from audit.service import AuditService
from auth.admin import UserAdmin
from auth.service import Authenticator, Sleep
from config.settings import Settings
from core.clock import Clock
from core.events import EventLog
from db.engine import Database


async def _no_sleep(_seconds: float) -> None:
    return None


def identity_services(db: Database, settings: Settings, clock: Clock, events: EventLog,
                      sleep: Sleep = _no_sleep) -> dict[str, Any]:
    """Keyword arguments ``audit``, ``auth`` and ``users`` of ``Container`` (no real waiting in tests)."""
    audit = AuditService(db=db, clock=clock)
    return {"audit": audit, "auth": Authenticator(db=db, settings=settings.auth, clock=clock, sleep=sleep),
            "users": UserAdmin(db=db, settings=settings.auth, clock=clock, events=events, audit=audit)}
