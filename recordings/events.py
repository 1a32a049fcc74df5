"""Typed domain events of the recordings feature (thin payloads: ids, hashes, durations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import DomainEvent
from recordings.models import Recording

RECORDING_STARTED = "recording.started"
RECORDING_STORED = "recording.stored"
RECORDING_EMPTY = "recording.empty"
RECORDING_FAILED = "recording.failed"
RECORDING_RETRIED = "recording.retried"
RECORDING_PURGED = "recording.purged"
RECORDING_MISSING = "recording.missing"
RECORDING_HOLD_CHANGED = "recording.legal_hold_changed"
RECORDING_PAUSED = "recording.paused"
RECORDING_RESUMED = "recording.resumed"
PROBE_FINISHED = "recording.probe_finished"

StoredListener = Callable[[AsyncSession, Recording], Awaitable[None]]
"""Told, inside the transaction that marks it ``stored``, of every stored recording (the case contact log)."""


def payload(rec: Recording) -> dict[str, Any]:
    """The stable thin payload of a recording event."""
    return {"recording_id": rec.id, "call_id": rec.call_id, "case_id": rec.case_id, "state": rec.state,
            "sha256": rec.sha256, "duration_s": rec.duration_s}


def recording_event(type_: str, rec: Recording, at: datetime, **extra: Any) -> DomainEvent:
    """A domain event about ``rec``."""
    return DomainEvent(type=type_, payload={**payload(rec), **extra}, call_id=rec.call_id if rec.kind == "call"
                       else None, case_id=rec.case_id, agent_id=rec.agent_id, client_id=rec.client_id,
                       team=rec.team, occurred_at=at)
