"""The services the composition root hands to the HTTP layer (one typed object, one AppKey)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.service import ReportService
from audit.service import AuditService
from auth.admin import UserAdmin
from auth.service import Authenticator
from config.settings import Settings
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from db.engine import Database
from dialer.pbx import PbxGateway
from dialer.service import CallService


@dataclass
class Container:
    """Everything a request handler may use; built once by ``app.compose``."""

    settings: Settings
    clock: Clock
    db: Database
    events: EventLog
    stream: EventStream
    pbx: PbxGateway
    calls: CallService
    reports: ReportService
    audit: AuditService
    auth: Authenticator
    users: UserAdmin
    extras: dict[str, Any] = field(default_factory=dict)
    readiness: dict[str, Any] = field(default_factory=dict)
