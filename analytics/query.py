"""What a report is and what it is asked: the report specs, the query, the result, and the SQL time keys.

Every other analytics module depends on this one and it on none of them but the leaves (metrics, models,
timezones, errors), so the report modules never import each other to share a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, cast, extract, func

from analytics.errors import BadGroupBy, NoSuchReport
from analytics.metrics import ENTITY_DIMENSIONS, METRICS, OUTCOMES, TIME_DIMENSIONS
from analytics.models import DIM_COLUMNS
from analytics.timezones import local_minute, time_key

# a half-open UTC range [start, end); None: unbounded
Range = tuple[datetime | None, datetime | None]
# report dimension -> its column in calls and the rollup tables, and back
DIM_COLUMN = dict(zip(ENTITY_DIMENSIONS, DIM_COLUMNS, strict=True))
DIMENSION_OF = {v: k for k, v in DIM_COLUMN.items()}


@dataclass(frozen=True)
class ReportSpec:
    """A report: the base measures it sums and the metrics it shows."""

    name: str
    title: str
    base: tuple[str, ...]
    metrics: tuple[str, ...]


REPORTS: dict[str, ReportSpec] = {s.name: s for s in [
    ReportSpec("connect-rate", "Attempts, connections and why calls did not connect",
               ("attempts", "connected", "in_progress", "customer_busy", "customer_no_answer", "customer_unreachable",
                "failed", "cancelled", "agent_not_answered", "invalid_number", "rpc", "tta_n", "tta_sum"),
               ("attempts", "blocked", "connected", "connect_rate", "agent_not_answered", "busy", "no_answer",
                "unreachable", "failed", "cancelled", "invalid_number", "in_progress", "right_party_contacts",
                "right_party_rate", "time_to_answer_mean")),
    ReportSpec("talk-time", "Talk time of connected calls",
               ("attempts", "connected", "talk_n", "talk_sum", "tta_n", "tta_sum"),
               ("attempts", "connected", "talk_total", "talk_mean", "talk_median", "talk_p90",
                "time_to_answer_mean")),
    ReportSpec("outcomes", "Dispositions, right-party contacts and promises to pay",
               ("attempts", "connected", *(f"o_{o}" for o in OUTCOMES)),
               ("attempts", "connected", *(f"outcome_{o}" for o in OUTCOMES), "outcome_none",
                "right_party_contacts", "right_party_rate", "promises", "promise_rate", "promise_amount")),
    ReportSpec("first-call-sla", "Share of cases first called within N days of receipt", (),
               ("cases", "first_call_within_sla", "late", "pending", "first_call_sla_rate")),
    ReportSpec("repayments", "Repayment statistics: amounts collected and promises to pay made, kept, partial and "
                             "broken", (),
               ("payments", "collected", "promises_made", "promises_kept", "promises_broken", "promises_partial",
                "promises_pending", "kept_rate")),
]}
SLA_DIMENSIONS = ("client", "batch", "day", "week", "month", "weekday")
REPAYMENT_DIMENSIONS = ("agent", "team", "client", "batch", "day", "week", "month", "weekday")
#: the dimensions each report takes (group_by and filters); the call reports take every dimension
REPORT_DIMENSIONS: dict[str, tuple[str, ...]] = {"first-call-sla": SLA_DIMENSIONS, "repayments": REPAYMENT_DIMENSIONS}
REPORT_FILTERS: dict[str, tuple[str, ...]] = {"first-call-sla": ("client", "batch"),
                                              "repayments": ("agent", "team", "client", "batch")}


@dataclass(frozen=True)
class ReportQuery:
    """What to report: dimensions, half-open UTC range, zone, filters (dimension -> allowed values)."""

    report: str
    group_by: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sla_days: int = 2


@dataclass
class Report:
    """A computed report: ``columns`` (dimensions then metrics), ``rows``, ``totals`` and notes."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    query: ReportQuery
    notes: list[str] = field(default_factory=list)
    late_cases: list[dict[str, Any]] | None = None

    def definitions(self) -> dict[str, str]:
        """Definitions of the metrics shown."""
        return {c: _definition(c) for c in self.columns if c not in self.query.group_by}


def _definition(metric: str) -> str:
    if metric.startswith("outcome_"):
        return METRICS["outcome_<name>"].definition.replace("<name>", metric.removeprefix("outcome_"))
    if metric == "late":
        return "Cases first called after the deadline, or never called once it passed (listed in late_cases)."
    if metric == "pending":
        return "Cases not yet called whose deadline has not passed."
    return METRICS[metric].definition


def validate(q: ReportQuery) -> ReportSpec:
    """The report's spec; NoSuchReport / BadGroupBy when the query cannot be answered."""
    spec = REPORTS.get(q.report)
    if spec is None:
        raise NoSuchReport(q.report, list(REPORTS))
    allowed = REPORT_DIMENSIONS.get(spec.name, (*ENTITY_DIMENSIONS, *TIME_DIMENSIONS))
    bad = [d for d in q.group_by if d not in allowed] + [
        d for d in q.filters if d not in REPORT_FILTERS.get(spec.name, ENTITY_DIMENSIONS)]
    if bad or len(set(q.group_by)) != len(q.group_by):
        raise BadGroupBy(bad or list(q.group_by), list(allowed))
    return spec


# ---- SQL time keys ---------------------------------------------------------------------------------------


def epoch_hour_sql(col: Any, dialect: str) -> ColumnElement[int]:
    """SQL for the UTC epoch hour of a timestamp column, on SQLite (stored text) or PostgreSQL."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", col), BigInteger) // 3600
    return cast(func.floor(extract("epoch", col) / 3600), BigInteger)


def time_keys(group_by: tuple[str, ...], hour: Any, segments: tuple[tuple[int, int], ...]) -> list[Any]:
    """SQL: the labelled keys ``k_<dim>`` of the time dimensions in ``group_by`` for epoch ``hour``."""
    if not any(d in TIME_DIMENSIONS for d in group_by):
        return []
    lm = local_minute(hour, segments)
    return [time_key(d, lm).label(f"k_{d}") for d in group_by if d in TIME_DIMENSIONS]


def day_key(dim: str, day: Any) -> Any:
    """SQL: the integer key of time dimension ``dim`` (as ``time_key``) for local ``day``."""
    if dim in ("day", "month"):
        return day  # plain column: the planner knows how many distinct days there are
    if dim == "week":
        return (day + 3) // 7
    if dim == "weekday":
        return (day + 3) % 7 + 1
    raise ValueError(dim)  # hour of day: never planned from days


def day_keys(group_by: tuple[str, ...], day: Any) -> list[Any]:
    """SQL: the labelled keys ``k_<dim>`` of the time dimensions in ``group_by`` for local ``day``."""
    return [day_key(d, day).label(f"k_{d}") for d in group_by if d in TIME_DIMENSIONS]
