"""Request and response models of the recordings and QA API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.pagination import Cursor
from core.schemas import Instant, JsonBool, WholeNumber, json_number, whole_number
from recordings.models import ProbeResult, Recording, RecordingAccess, RecordingGap, RecordingReview
from recordings.qa import RecordingFilter

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class RecordingOut(BaseModel):
    """A recording: its call, links, state, stored object and retention."""

    id: str
    call_id: str
    kind: str
    state: str
    case_id: str | None
    agent_id: str | None
    team: str | None
    client_id: str | None
    outcome: str | None
    started_at: datetime
    call_ended_at: datetime | None
    duration_s: float | None
    channels: int | None
    format: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    key: str | None
    retain_until: datetime | None
    legal_hold: bool
    stored_at: datetime | None
    purged_at: datetime | None
    attempts: int
    last_error: str | None
    audio_url: str | None


def recording_out(rec: Recording) -> RecordingOut:
    """The API form of a recording row."""
    return RecordingOut(
        id=rec.id, call_id=rec.call_id, kind=rec.kind, state=rec.state, case_id=rec.case_id,
        agent_id=rec.agent_id, team=rec.team, client_id=rec.client_id, outcome=rec.outcome,
        started_at=rec.started_at, call_ended_at=rec.call_ended_at, duration_s=rec.duration_s,
        channels=rec.channels, format=rec.format, content_type=rec.content_type, size=rec.size,
        sha256=rec.sha256, key=rec.key, retain_until=rec.retain_until, legal_hold=rec.legal_hold,
        stored_at=rec.stored_at, purged_at=rec.purged_at, attempts=rec.attempts, last_error=rec.last_error,
        audio_url=f"/v1/recordings/{rec.id}/audio" if rec.state == "stored" else None)


class RecordingList(BaseModel):
    """A page of recordings, newest first."""

    items: list[RecordingOut]
    next_cursor: str | None


class FilterIn(BaseModel):
    """Recording search criteria (shared by the list query and QA samples)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent: str | None = Field(None, pattern=_ID)
    team: str | None = Field(None, max_length=64)
    client: str | None = Field(None, max_length=64)
    case: str | None = Field(None, max_length=36)
    since: Instant | None = Field(None, alias="from")
    until: Instant | None = Field(None, alias="to")
    min_duration: float | None = Field(None, ge=0)
    max_duration: float | None = Field(None, ge=0)
    outcome: str | None = Field(None, max_length=32)

    def to_filter(self, state: str | None = None) -> RecordingFilter:
        """As the service's filter."""
        return RecordingFilter(agent=self.agent, team=self.team, client=self.client, case=self.case,
                               since=self.since, until=self.until, min_duration_s=self.min_duration,
                               max_duration_s=self.max_duration, outcome=self.outcome, state=state)


class RecordingQuery(FilterIn):
    """Query of GET /v1/recordings."""

    state: str | None = Field(None, pattern=r"^(recording|pending|stored|failed|empty|purged)$")
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)


class SampleRequest(BaseModel):
    """POST /v1/qa/samples: a stratified (per agent) reproducible random sample."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["per_agent"], "properties": {"per_agent": {"type": "integer"}, "percent": {"type": "null"}}},
        {"required": ["percent"], "properties": {"percent": {"type": "number"}, "per_agent": {"type": "null"}}},
    ]})

    filters: FilterIn = Field(default_factory=FilterIn)
    per_agent: Annotated[int, Interval(ge=1, le=1000), BeforeValidator(whole_number)] | None = None
    percent: Annotated[float, Interval(gt=0, le=100), BeforeValidator(json_number)] | None = None
    seed: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_size(self) -> SampleRequest:
        if (self.per_agent is None) == (self.percent is None):
            raise ValueError("give exactly one of per_agent and percent")
        return self


class SampleOut(BaseModel):
    """The sample, grouped by nothing: items sorted by agent then id."""

    seed: str
    items: list[RecordingOut]


class ChecklistItem(BaseModel):
    """One checklist line of a review."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=200)
    passed: JsonBool
    note: str = Field("", max_length=1000)


class ReviewIn(BaseModel):
    """A QA review."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": 85, "checklist": [{"item": "identified themselves", "passed": True}], "notes": "polite"}]})

    score: WholeNumber = Field(ge=0, le=100)
    checklist: list[ChecklistItem] = Field(default_factory=list, max_length=100)
    notes: str = Field("", max_length=10_000)


class ReviewOut(BaseModel):
    """A stored QA review."""

    id: str
    recording_id: str
    reviewer: str
    score: int
    checklist: list[dict[str, Any]]
    notes: str
    created_at: datetime


def review_out(r: RecordingReview) -> ReviewOut:
    """API form of a review."""
    return ReviewOut(id=r.id, recording_id=r.recording_id, reviewer=r.reviewer, score=r.score,
                     checklist=list(r.checklist or []), notes=r.notes, created_at=r.created_at)


class ReviewList(BaseModel):
    """Reviews of a recording."""

    items: list[ReviewOut]


class GapOut(BaseModel):
    """A completeness finding: ``missing`` (answered call, no stored recording; ``ref`` = call id),
    ``orphan`` (recording of no call; ``ref`` = spool id) or ``store-orphan`` (object in the store that no
    recording row points to; ``ref`` = store key)."""

    id: str
    kind: str
    ref: str
    location: str
    detail: str
    detected_at: datetime
    resolved_at: datetime | None


def gap_out(g: RecordingGap) -> GapOut:
    """API form of a gap."""
    return GapOut(id=g.id, kind=g.kind, ref=g.ref, location=g.location, detail=g.detail,
                  detected_at=g.detected_at, resolved_at=g.resolved_at)


class GapList(BaseModel):
    """Open (or all) gaps."""

    items: list[GapOut]


class GapQuery(BaseModel):
    """Query of GET /v1/recordings/gaps."""

    model_config = ConfigDict(extra="forbid")

    include_resolved: bool = False
    kind: Literal["missing", "orphan", "store-orphan"] | None = None


class AccessOut(BaseModel):
    """One access-log row."""

    id: int
    at: datetime
    user_id: str
    role: str
    remote: str | None
    recording_id: str | None
    action: str
    result: str
    detail: str | None


def access_out(a: RecordingAccess) -> AccessOut:
    """API form of an access-log row."""
    return AccessOut(id=a.id, at=a.at, user_id=a.user_id, role=a.role, remote=a.remote,
                     recording_id=a.recording_id, action=a.action, result=a.result, detail=a.detail)


class AccessList(BaseModel):
    """A page of the access log, newest first."""

    items: list[AccessOut]
    next_before: int | None


class AccessQuery(BaseModel):
    """Query of GET /v1/recordings/access-log (``recording_id`` is required of every role but admin)."""

    model_config = ConfigDict(extra="forbid")

    recording_id: str | None = Field(None, max_length=64)
    user: str | None = Field(None, max_length=64)
    before: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(100, ge=1, le=1000)


class AudioQuery(BaseModel):
    """Query of GET /v1/recordings/{id}/audio."""

    model_config = ConfigDict(extra="forbid")

    download: bool = False


class PauseIn(BaseModel):
    """Why the recording is paused (e.g. card payment)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class RetryIn(BaseModel):
    """Why a failed recording is retried (kept in the access log with who asked)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class ProbeOut(BaseModel):
    """A recording-probe result."""

    id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    recording_id: str | None
    detail: dict[str, Any]


def probe_out(p: ProbeResult) -> ProbeOut:
    """API form of a probe result."""
    return ProbeOut(id=p.id, status=p.status, started_at=p.started_at, finished_at=p.finished_at,
                    recording_id=p.recording_id, detail=p.detail or {})


def probe_json(row: ProbeResult | None) -> dict[str, Any] | None:
    """The API/readiness form of a probe result."""
    if row is None:
        return None
    return {"id": row.id, "status": row.status, "started_at": row.started_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "recording_id": row.recording_id, "detail": row.detail}
