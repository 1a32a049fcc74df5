"""Call reports: rollup for clean hours + raw calls for dirty/partial hours, one SQL statement, exact.

``run_report`` is the use case the API calls. Every report sums base measures grouped by the requested
dimensions (see ``analytics.metrics``), then derives rates, means and percentiles in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Select, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.errors import BadGroupBy, NoSuchReport
from analytics.metrics import (
    COMPOSITES,
    ENTITY_DIMENSIONS,
    METRICS,
    OUTCOMES,
    RIGHT_PARTY_OUTCOMES,
    TIME_DIMENSIONS,
)
from analytics.models import SUM_COLUMNS, epoch_hour, rollup
from analytics.percentiles import talk_percentiles
from analytics.probe import dialect_of
from analytics.promises import as_json, promise_amounts
from analytics.rollup import calls, raw_measures, sum_of
from analytics.sources import DIM_COLUMN, hourly_union, time_keys
from analytics.timezones import offset_segments, time_label

RPC_COLS = tuple(f"o_{o}" for o in RIGHT_PARTY_OUTCOMES)


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
]}
SLA_DIMENSIONS = ("client", "batch", "day", "week", "month", "weekday")


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
    allowed = SLA_DIMENSIONS if spec.name == "first-call-sla" else (*ENTITY_DIMENSIONS, *TIME_DIMENSIONS)
    bad = [d for d in q.group_by if d not in allowed] + [
        d for d in q.filters if d not in (ENTITY_DIMENSIONS if spec.name != "first-call-sla" else ("client", "batch"))]
    if bad or len(set(q.group_by)) != len(q.group_by):
        raise BadGroupBy(bad or list(q.group_by), list(allowed))
    return spec


async def run_report(session: AsyncSession, q: ReportQuery, *, now: datetime | None = None) -> Report:
    """Compute report ``q`` in one read session."""
    spec = validate(q)
    if spec.name == "first-call-sla":
        from analytics.sla import first_call_sla

        return await first_call_sla(session, q, spec, now=now or datetime.now(UTC))
    dialect = dialect_of(session)
    if dialect == "postgresql":
        # compiling these plans with LLVM costs ~0.5-1.5 s, far more than running them (~0.1 s); a local
        # setting, it ends with the caller's transaction
        # and a sort of a few hundred thousand histogram rows should stay in memory
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
    segments = await _segments(session, q) if any(d in TIME_DIMENSIONS for d in q.group_by) else ((0, 0),)
    stmt = _report_stmt(dialect, q, spec.base, segments)
    n = len(q.group_by)
    label = _labeller(q.group_by)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for rec in (await session.execute(stmt)).all():
        vals = [float(v or 0) for v in rec[n:]]
        if not any(vals):  # the single row of an ungrouped aggregate over nothing
            continue
        key = label(rec[:n])
        acc = groups.get(key)
        if acc is None:
            groups[key] = vals
        else:
            for i, v in enumerate(vals):
                acc[i] += v
    blocked = await _blocked(session, q, segments) if "blocked" in spec.metrics else None
    pct = await talk_percentiles(session, q, segments) if "talk_median" in spec.metrics else None
    promised = await promise_amounts(session, q, segments) if "promise_amount" in spec.metrics else None
    totals_base = [0.0] * len(spec.base)
    for vals in groups.values():
        for i, v in enumerate(vals):
            totals_base[i] += v
    zeros = [0.0] * len(spec.base)
    keys = list(groups)
    if blocked is not None:
        keys += [k for k in blocked if k not in groups]  # groups with blocked attempts only
    rows = []
    for key in sorted(keys, key=_sort_key):
        in_groups = key in groups
        row: dict[str, Any] = dict(zip(q.group_by, key, strict=True))
        row.update(derive(spec, dict(zip(spec.base, groups[key] if in_groups else zeros, strict=True)),
                          blocked.get(key, 0) if blocked is not None else None,
                          pct.groups.get(key) if pct is not None and in_groups else None))
        if promised is not None and in_groups:
            row["promise_amount"] = as_json(promised[0].get(key))
        rows.append(row)
    total_blocked = sum(blocked.values()) if blocked is not None else None
    totals = derive(spec, dict(zip(spec.base, totals_base, strict=True)), total_blocked,
                    pct.totals if pct is not None else None)
    if promised is not None:
        totals["promise_amount"] = as_json(promised[1])
    notes = []
    if blocked is None and "blocked" in spec.metrics:
        notes.append("blocked is null: the decision log has no such dimension, or no decision log exists")
    return Report(spec.name, spec.title, [*q.group_by, *spec.metrics], rows, totals, q, notes)


def _labeller(group_by: tuple[str, ...]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Raw SQL keys -> row labels, each distinct value of a dimension labelled once (rows repeat them)."""
    memos: list[dict[Any, Any]] = [{} for _ in group_by]
    dims = list(zip(group_by, memos, strict=True))

    def label(raw: Sequence[Any]) -> tuple[Any, ...]:
        out = []
        for (d, memo), v in zip(dims, raw, strict=True):
            lab = memo.get(v, memo)
            if lab is memo:
                lab = memo[v] = _label(d, v)
            out.append(lab)
        return tuple(out)

    return label


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(v) if not isinstance(v, int) else f"{v:08d}") for v in key)


def _label(dim: str, value: Any) -> Any:
    if dim in TIME_DIMENSIONS:
        return time_label(dim, int(value))
    return value or None


async def _segments(session: AsyncSession, q: ReportQuery) -> tuple[tuple[int, int], ...]:
    h0 = epoch_hour(q.start) if q.start else None
    h1 = epoch_hour(q.end) if q.end else None
    if h0 is None or h1 is None:
        # one statement each: SQLite answers a lone min() or max() from the index, both together by a scan
        lo = (await session.execute(select(func.min(rollup.c.hour)))).scalar_one()
        hi = (await session.execute(select(func.max(rollup.c.hour)))).scalar_one()
        c_lo = (await session.execute(select(func.min(calls.c.created_at)))).scalar_one()
        c_hi = (await session.execute(select(func.max(calls.c.created_at)))).scalar_one()
        cand_lo = [x for x in (lo, epoch_hour(c_lo) if c_lo else None) if x is not None]
        cand_hi = [x for x in (hi, epoch_hour(c_hi) if c_hi else None) if x is not None]
        h0 = h0 if h0 is not None else min(cand_lo, default=0)
        h1 = h1 if h1 is not None else max(cand_hi, default=0)
    return offset_segments(q.tz, h0, max(h0, h1))


def _report_stmt(dialect: str, q: ReportQuery, base: tuple[str, ...],
                 segments: tuple[tuple[int, int], ...]) -> Select[Any]:
    def clean(r: Any, _kept: list[Any], _grouped: list[Any]) -> tuple[list[Any], list[Any]]:
        return [], [func.sum(sum_of(r, COMPOSITES[b]) if b in COMPOSITES else r[b]).label(b) for b in base]

    src = hourly_union(q, rollup, clean, lambda c: (raw_measures(base, c), [], []),
                       lambda hour: time_keys(q.group_by, hour, segments), dialect=dialect)
    keys = [(src.c[f"k_{d}"] if d in TIME_DIMENSIONS else src.c[DIM_COLUMN[d]]).label(f"k_{d}")
            for d in q.group_by]
    # PostgreSQL sums bigints as numeric (decoded as Decimal, slowly); counts fit a bigint
    sums = [(cast(func.sum(src.c[b]), BigInteger) if dialect == "postgresql" and b not in SUM_COLUMNS
             else func.sum(src.c[b])).label(b) for b in base]
    out = select(*keys, *sums)
    return out.group_by(*keys) if keys else out


async def _blocked(session: AsyncSession, q: ReportQuery,
                   segments: tuple[tuple[int, int], ...]) -> dict[tuple[Any, ...], float] | None:
    """Blocked attempts from the compliance decision log, when it exists and has the dimensions asked."""
    from analytics.blocked import blocked_counts

    return await blocked_counts(session, q, segments)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


def _mean(total: float, n: float) -> float | None:
    return round(total / n, 3) if n else None


# per report name: (its spec, the groups derive computes, the whole-number metrics); looked up per row
_PLANS: dict[str, tuple[ReportSpec, frozenset[str], frozenset[str]]] = {}


def derive(spec: ReportSpec, b: dict[str, float], blocked: float | None,
           pct: dict[str, float | None] | None = None) -> dict[str, Any]:
    """The report's metrics from summed base measures (and exact talk percentiles when the report has them)."""
    g = b.get
    plan = _PLANS.get(spec.name)
    if plan is None or plan[0] is not spec:
        plan = _PLANS[spec.name] = (spec, _needs(spec.name, spec.metrics), _count_metrics(spec.metrics))
    _, need, counts = plan
    vals: dict[str, Any] = {
        "attempts": g("attempts"), "blocked": blocked, "connected": g("connected"),
        "busy": g("customer_busy"), "no_answer": g("customer_no_answer"), "unreachable": g("customer_unreachable"),
        "failed": g("failed"), "cancelled": g("cancelled"), "invalid_number": g("invalid_number"),
        "in_progress": g("in_progress"),
    }
    # called once per report row (tens of thousands): compute only what the report shows
    if "connect_rate" in need:
        vals["connect_rate"] = _ratio(g("connected", 0.0), g("attempts", 0.0))
    if "agent_not_answered" in need:
        vals["agent_not_answered"] = g("agent_not_answered", 0.0) + sum(
            [g(c, 0.0) for c in ("agent_no_answer", "agent_rejected", "agent_unavailable")])
    if "rpc" in need:
        rpc = g("rpc", 0.0) + sum([g(c, 0.0) for c in RPC_COLS])
        vals["right_party_contacts"] = rpc
        vals["right_party_rate"] = _ratio(rpc, g("connected", 0.0))
    if "time_to_answer_mean" in need:
        vals["time_to_answer_mean"] = _mean(g("tta_sum", 0.0), g("tta_n", 0.0))
    if "talk_total" in need:
        vals["talk_total"] = round(g("talk_sum", 0.0), 3)
        vals["talk_mean"] = _mean(g("talk_sum", 0.0), g("talk_n", 0.0))
    if "talk_median" in need:
        vals["talk_median"] = (pct or {}).get("talk_median")
        vals["talk_p90"] = (pct or {}).get("talk_p90")
    if spec.name == "outcomes":
        for o in OUTCOMES:
            vals[f"outcome_{o}"] = g(f"o_{o}")
        vals["outcome_none"] = g("attempts", 0.0) - sum(g(f"o_{o}", 0.0) for o in OUTCOMES)
        vals["promises"] = g("o_promise_to_pay")
        vals["promise_rate"] = _ratio(g("o_promise_to_pay", 0.0), rpc)
        vals["promise_amount"] = {}  # filled from the dispositions by run_report
    out = {}
    for m in spec.metrics:
        v = vals[m]
        out[m] = int(v) if m in counts and v.__class__ is float and v.is_integer() else v
    return out


def _needs(name: str, metrics: tuple[str, ...]) -> frozenset[str]:
    """Which derived groups ``derive`` must compute for report ``name`` showing ``metrics``."""
    m = set(metrics)
    out = m & {"connect_rate", "agent_not_answered", "time_to_answer_mean", "talk_median"}
    if m & {"talk_total", "talk_mean"}:
        out.add("talk_total")
    if m & {"right_party_contacts", "right_party_rate"} or name == "outcomes":
        out.add("rpc")
    return frozenset(out)


def _count_metrics(metrics: tuple[str, ...]) -> frozenset[str]:
    """The metrics shown as whole numbers when whole (not rates, means, totals, percentiles)."""
    return frozenset(m for m in metrics if not m.endswith(("rate", "mean", "total", "median", "p90")))

