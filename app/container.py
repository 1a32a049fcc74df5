"""The services the composition root hands to the HTTP layer (one typed object, one AppKey)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from analytics.service import ReportService
from approvals.service import ApprovalService
from audit.service import AuditService
from auth.admin import UserAdmin
from auth.service import Authenticator
from auth.sessions import SessionService
from callbacks.service import CallbackService
from campaigns.service import CampaignService
from cases.service import CaseService
from clients.service import ClientSettingsService
from compliance.admin import ComplianceAdmin
from config.settings import Settings
from core.clock import Clock
from core.errors import UpstreamUnavailable
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from dialer.gate import DialGate
from dialer.pbx import PbxGateway
from dialer.presented import PresentedNumberService
from dialer.service import CallService
from dialer.transfers import TransferService
from hooks.service import HookService
from inbound.service import InboundService
from metrics.service import Metrics
from monitor.service import MonitorService
from payments.service import PaymentService
from presence.service import PresenceService
from recordings.runtime import RecordingsFeature

Readiness = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Container:
    """Everything a request handler may use; built once by ``app.compose``."""

    settings: Settings
    clock: Clock
    db: Database
    events: EventLog
    stream: EventStream
    tasks: TaskGroup
    pbx: PbxGateway
    gate: DialGate
    calls: CallService
    reports: ReportService
    presented: PresentedNumberService
    cases: CaseService
    hooks: HookService
    compliance: ComplianceAdmin
    audit: AuditService
    auth: Authenticator
    users: UserAdmin
    approvals: ApprovalService
    presence: PresenceService
    callbacks: CallbackService
    campaigns: CampaignService
    sessions: SessionService
    inbound: InboundService
    metrics: Metrics
    payments: PaymentService
    client_settings: ClientSettingsService
    monitor: MonitorService
    transfers: TransferService
    recordings: RecordingsFeature | None = None
    """None when this process runs without the recordings feature (its endpoints answer 503)."""
    readiness: dict[str, Readiness] = field(default_factory=dict)

    def recordings_feature(self) -> RecordingsFeature:
        """The recordings feature of this process; 503 naming ``recordings`` when it is not running."""
        if self.recordings is None:
            raise UpstreamUnavailable("recordings", "the recordings feature is not running")
        return self.recordings
