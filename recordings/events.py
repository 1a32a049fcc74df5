"""Typed domain events of the recordings feature (thin payloads: ids, hashes, durations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import DomainEvent, EventData
from recordings.models import Recording
from recordings.states import RecordingState

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


class RecordingData(EventData):
    """A recording's ids, state, hash and duration (``payload``)."""

    recording_id: str
    call_id: str = Field(description="The call's id (a probe's id for a probe recording)")
    case_id: str | None
    state: RecordingState
    sha256: str | None
    duration_s: float | None


class RecordingFailedData(RecordingData):
    """``recording.failed``: could not be ingested (the spool files are kept)."""

    error: str = Field(max_length=200)


class RecordingRetriedData(RecordingData):
    """``recording.retried``: an operator asked for another ingest."""

    by: str
    reason: str = Field(max_length=200)


class RecordingActedData(RecordingData):
    """``recording.purged``, ``recording.paused``, ``recording.resumed``: and who did it."""

    by: str


class RecordingHoldChangedData(RecordingData):
    """``recording.legal_hold_changed``: set or released, by whom."""

    legal_hold: bool
    by: str


class RecordingMissingData(EventData):
    """``recording.missing``: a call that should have a recording has none (the reconciler)."""

    call_id: str
    detail: str = Field(max_length=200)


class ProbeFinishedData(EventData):
    """``recording.probe_finished``: the end-to-end recording probe's result."""

    probe_id: str
    recording_id: str
    status: Literal["passed", "failed"]


DATA: dict[str, type[BaseModel]] = {
    **dict.fromkeys((RECORDING_STARTED, RECORDING_STORED, RECORDING_EMPTY), RecordingData),
    RECORDING_FAILED: RecordingFailedData, RECORDING_RETRIED: RecordingRetriedData,
    **dict.fromkeys((RECORDING_PURGED, RECORDING_PAUSED, RECORDING_RESUMED), RecordingActedData),
    RECORDING_HOLD_CHANGED: RecordingHoldChangedData, RECORDING_MISSING: RecordingMissingData,
    PROBE_FINISHED: ProbeFinishedData,
}
"""Each recording event type's data model."""

ALL = tuple(DATA)
