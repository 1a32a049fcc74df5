"""Query parameters of ``GET /v1/reports/{report}`` (documented in the OpenAPI schema) and the catalogue document."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analytics.metrics import DIMENSIONS, METRICS
from analytics.query import REPORTS, ReportQuery
from core.schemas import DayOrTime

_ZONES: list[Any] = sorted(available_timezones())
_DIM = "(?:" + "|".join(DIMENSIONS) + ")"
_GROUP_BY = f"^(?:{_DIM}(?:,{_DIM})*)?$"


def _describe() -> str:
    dims = "; ".join(f"{k}: {v}" for k, v in DIMENSIONS.items())
    return f"Comma-separated dimensions. {dims}"


class ReportParams(BaseModel):
    """Filters, grouping, range and zone of a report. Metrics: """ + "; ".join(
        f"{m.name}: {m.definition}" for m in METRICS.values())

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # the pattern is documented; the report answers a bad dimension itself (422 bad-group-by, naming the allowed)
    group_by: str = Field("", description=_describe(), json_schema_extra={"pattern": _GROUP_BY})
    from_: DayOrTime | None = Field(None, alias="from", description=(
        "Start (inclusive): an ISO date (local midnight in tz) or an ISO datetime with offset."))
    to: DayOrTime | None = Field(None, description="End (exclusive), like from.")
    tz: str = Field("UTC", description="IANA time zone the report is read in (buckets and plain dates).",
                    json_schema_extra={"enum": _ZONES})
    agent: str | None = Field(None, description="Comma-separated agent ids.")
    team: str | None = Field(None, description="Comma-separated teams.")
    client: str | None = Field(None, description="Comma-separated clients (banks).")
    batch: str | None = Field(None, description="Comma-separated batches.")
    number_kind: str | None = Field(None, description="Comma-separated number kinds.")
    direction: str | None = Field(None, description="Comma-separated directions: outbound, inbound.")
    sla_days: int = Field(2, ge=0, le=365, description="first-call-sla: deadline in days after receipt.")
    format: Literal["json", "csv", "xlsx"] = "json"

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def zone(self) -> ZoneInfo:
        """The report zone."""
        return ZoneInfo(self.tz)

    def instant(self, v: date | datetime | None) -> datetime | None:
        """A bound as an aware UTC instant (dates are local midnight; naive datetimes are local)."""
        if v is None:
            return None
        if not isinstance(v, datetime):
            v = datetime.combine(v, time(0))
        if v.tzinfo is None:
            v = v.replace(tzinfo=self.zone())
        return v.astimezone(UTC)

    def filters(self) -> dict[str, tuple[str, ...]]:
        """Non-empty filters, dimension -> values."""
        out = {}
        for name in ("agent", "team", "client", "batch", "number_kind", "direction"):
            raw = getattr(self, name)
            if raw:
                out[name] = tuple(x.strip() for x in raw.split(",") if x.strip())
        return out

    def dims(self) -> tuple[str, ...]:
        """The group_by dimensions."""
        return tuple(dict.fromkeys(x.strip() for x in self.group_by.split(",") if x.strip()))

    def to_query(self, report: str) -> ReportQuery:
        """The query for report ``report`` (validated against the report by the service)."""
        return ReportQuery(report, self.dims(), self.instant(self.from_), self.instant(self.to), self.zone(),
                           self.filters(), self.sla_days)


def catalogue_json() -> dict[str, Any]:
    """``GET /v1/reports``: every report with its metrics, the dimensions and the metric definitions."""
    return {
        "reports": [{"name": s.name, "title": s.title, "metrics": list(s.metrics)} for s in REPORTS.values()],
        "dimensions": DIMENSIONS, "metrics": {m.name: m.definition for m in METRICS.values()},
    }
