"""Call reports: rollup for clean hours + raw calls for dirty/partial hours, one SQL statement, exact.

``run_report`` computes one report in the caller's session (the API reaches it through
``analytics.service.ReportService``). Every report sums base measures grouped by the requested
dimensions (see ``analytics.metrics``), then derives rates, means and percentiles in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Select, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.blocked import blocked_counts
from analytics.daily import DailyPlan
from analytics.daily import plan as daily_plan
from analytics.grouping import label_columns, merge
from analytics.measures import calls, raw_measures, sum_of
from analytics.metrics import COMPOSITES, OUTCOMES, RIGHT_PARTY_OUTCOMES, TIME_DIMENSIONS
from analytics.models import DIM_COLUMNS, SUM_COLUMNS, epoch_hour, rollup, rollup_daily
from analytics.percentiles import talk_percentiles
from analytics.promises import as_json, promise_amounts
from analytics.query import DIM_COLUMN, DIMENSION_OF, Report, ReportQuery, ReportSpec, day_keys, time_keys, validate
from analytics.repayments import repayments
from analytics.sla import first_call_sla
from analytics.sources import hourly_union, legs_part
from analytics.timezones import offset_segments, time_label
from db.dialect import dialect_of
from db.fetch import fetch_plain

RPC_COLS = tuple(f"o_{o}" for o in RIGHT_PARTY_OUTCOMES)


async def run_report(session: AsyncSession, q: ReportQuery, *, now: datetime | None = None) -> Report:
    """Compute report ``q`` in one read session."""
    spec = validate(q)
    if spec.name == "first-call-sla":
        return await first_call_sla(session, q, spec, now=now or datetime.now(UTC))
    if spec.name == "repayments":
        return await repayments(session, q, spec)
    dialect = dialect_of(session)
    if dialect == "postgresql" and not session.in_transaction():
        # one snapshot for every statement of the report (which days are clean, the days, the rest)
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    if dialect == "postgresql":
        # compiling these plans with LLVM costs ~0.5-1.5 s, far more than running them (~0.1 s); a local
        # setting, it ends with the caller's transaction
        # and a sort of a few hundred thousand histogram rows should stay in memory
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
    segments = await _segments(session, q) if any(d in TIME_DIMENSIONS for d in q.group_by) else ((0, 0),)
    days = await daily_plan(session, q)
    stmt = _report_stmt(dialect, q, spec.base, segments, days)
    n = len(q.group_by)
    recs = await fetch_plain(session, stmt)
    if not n:  # one row; all NULL when there was nothing to sum
        recs = [r for r in recs if any(v is not None for v in r)]
    # a sum over no rows is NULL (a part of the union with nothing in range, on PostgreSQL): nothing to add
    recs = [(*r[:n], *(0 if v is None else v for v in r[n:])) for r in recs]
    raw = list(zip(*recs, strict=True)) if recs else [() for _ in range(n + len(spec.base))]
    labels = label_columns(q.group_by, raw[:n], _label)
    # blocked attempts from the compliance decision log, when it exists and has the dimensions asked
    blocked = await blocked_counts(session, q, segments) if "blocked" in spec.metrics else None
    pct = await talk_percentiles(session, q, segments, days) if "talk_median" in spec.metrics else None
    promised = await promise_amounts(session, q, segments) if "promise_amount" in spec.metrics else None
    # groups with blocked attempts only are added with zeros; SQL grouped by keys labelled one-to-one,
    # except days labelled by their month
    key_cols, sums, has_calls = merge(labels, raw[n:], blocked or (), unique="month" not in q.group_by)
    keys = list(zip(*key_cols, strict=True)) if n else [()] * len(has_calls)
    base = dict(zip(spec.base, sums, strict=True))
    metrics = derive_columns(
        spec, base, [blocked.get(k, 0) for k in keys] if blocked is not None else None,
        [pct.groups.get(k) if ok else None for k, ok in zip(keys, has_calls, strict=True)]
        if pct is not None else None)
    if promised is not None:
        metrics["promise_amount"] = [as_json(promised[0].get(k)) if ok else {}
                                     for k, ok in zip(keys, has_calls, strict=True)]
    names = [*q.group_by, *spec.metrics]
    rows = [dict(zip(names, vals, strict=True))
            for vals in zip(*key_cols, *(metrics[m] for m in spec.metrics), strict=True)]
    total_blocked = sum(blocked.values()) if blocked is not None else None
    totals_base = {b: [sum(col)] for b, col in base.items()}
    totals = {m: col[0] for m, col in derive_columns(
        spec, totals_base, [total_blocked] if blocked is not None else None,
        [pct.totals] if pct is not None else None).items()}
    if promised is not None:
        totals["promise_amount"] = as_json(promised[1])
    notes = []
    if blocked is None and "blocked" in spec.metrics:
        notes.append("blocked is null: the decision log has no such dimension, or no decision log exists")
    return Report(spec.name, spec.title, [*q.group_by, *spec.metrics], rows, totals, q, notes)


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
                 segments: tuple[tuple[int, int], ...], days: DailyPlan | None) -> Select[Any]:
    def clean(r: Any, _kept: list[Any], _grouped: list[Any]) -> tuple[list[Any], list[Any]]:
        return [], [func.sum(sum_of(r, COMPOSITES[b]) if b in COMPOSITES else r[b]).label(b) for b in base]

    def tkeys(hour: Any) -> list[Any]:
        return time_keys(q.group_by, hour, segments)

    by_leg = legs_part(q, base, tkeys, dialect)  # a transferred call's talk, agent by agent
    extra = [*([_daily_part(q, base, days)] if days else ()), *([by_leg] if by_leg is not None else ())]
    src = hourly_union(q, rollup, clean, lambda c: (raw_measures(base, c), [], []), tkeys, dialect=dialect,
                       ranges=days.rest if days else None, extra=extra)
    keys = [(src.c[f"k_{d}"] if d in TIME_DIMENSIONS else src.c[DIM_COLUMN[d]]).label(f"k_{d}")
            for d in q.group_by]
    # PostgreSQL sums bigints as numeric (slow to add, decoded as Decimal); as float8 the sum of counts is
    # exact below 2**53 and several times cheaper
    sums = [(cast(func.sum(cast(src.c[b], Float)), BigInteger) if dialect == "postgresql" and b not in SUM_COLUMNS
             else func.sum(src.c[b])).label(b) for b in base]
    if days is not None and not days.rest and by_leg is None:  # one part, already grouped: no second aggregate
        return select(*keys, *(src.c[b] for b in base))
    out = select(*keys, *sums)
    return out.group_by(*keys) if keys else out


def _daily_part(q: ReportQuery, base: tuple[str, ...], days: DailyPlan) -> Select[Any]:
    """The planned days from ``call_rollup_daily``, shaped like the hourly parts."""
    d = rollup_daily.c
    kept = [d[c] if DIMENSION_OF[c] in q.group_by else literal("").label(c) for c in DIM_COLUMNS]
    grouped = [d[c] for c in DIM_COLUMNS if DIMENSION_OF[c] in q.group_by]
    tkeys = day_keys(q.group_by, d.day)
    sums = [func.sum(sum_of(d, COMPOSITES[b]) if b in COMPOSITES else d[b]).label(b) for b in base]
    cond = [*days.where(d), *(d[DIM_COLUMN[k]].in_(v) for k, v in q.filters.items())]
    return select(*tkeys, *kept, *sums).where(*cond).group_by(*tkeys, *grouped)


def _ratios(a: Sequence[Any], b: Sequence[Any], ndigits: int) -> list[float | None]:
    return [round(x / y, ndigits) if y else None for x, y in zip(a, b, strict=True)]


def _add(*cols: Sequence[Any]) -> list[Any]:
    return [sum(v) for v in zip(*cols, strict=True)]


def derive_columns(spec: ReportSpec, b: Mapping[str, Sequence[Any]], blocked: Sequence[Any] | None,
                   pct: Sequence[dict[str, float | None] | None] | None = None) -> dict[str, list[Any]]:
    """The report's metric columns from columns of summed base measures (one entry per row).

    Column-wise: a report by agent and day over a year has tens of thousands of rows, and a loop per column
    costs a fraction of a dictionary of intermediate values per row. ``pct``: each row's exact talk
    percentiles (None: no connected call with a talk time).
    """
    rows = len(next(iter(b.values()))) if b else len(blocked or ())
    zero = [0] * rows
    g = b.get
    need = _needs(spec.name, spec.metrics)
    out: dict[str, list[Any]] = {}
    plain = {"attempts": "attempts", "connected": "connected", "busy": "customer_busy",
             "no_answer": "customer_no_answer", "unreachable": "customer_unreachable", "failed": "failed",
             "cancelled": "cancelled", "invalid_number": "invalid_number", "in_progress": "in_progress"}
    for metric, source in plain.items():
        if metric in spec.metrics:
            out[metric] = list(b[source]) if source in b else [None] * rows
    if "blocked" in spec.metrics:
        out["blocked"] = list(blocked) if blocked is not None else [None] * rows
    if "connect_rate" in need:
        out["connect_rate"] = _ratios(g("connected", zero), g("attempts", zero), 6)
    if "agent_not_answered" in need:
        out["agent_not_answered"] = _add(*(g(c, zero) for c in (
            "agent_not_answered", "agent_no_answer", "agent_rejected", "agent_unavailable")))
    rpc: list[Any] = zero
    if "rpc" in need:
        rpc = _add(g("rpc", zero), *(g(c, zero) for c in RPC_COLS))
        out["right_party_contacts"] = rpc
        out["right_party_rate"] = _ratios(rpc, g("connected", zero), 6)
    if "time_to_answer_mean" in need:
        out["time_to_answer_mean"] = _ratios(g("tta_sum", zero), g("tta_n", zero), 3)
    if "talk_total" in need:
        out["talk_total"] = [round(v, 3) for v in g("talk_sum", zero)]
        out["talk_mean"] = _ratios(g("talk_sum", zero), g("talk_n", zero), 3)
    if "talk_median" in need:
        for m in ("talk_median", "talk_p90"):
            out[m] = [p.get(m) if p else None for p in (pct or [None] * rows)]
    if spec.name == "outcomes":
        for o in OUTCOMES:
            out[f"outcome_{o}"] = list(g(f"o_{o}", [None] * rows))
        out["outcome_none"] = [a - s for a, s in zip(
            g("attempts", zero), _add(*(g(f"o_{o}", zero) for o in OUTCOMES)), strict=True)]
        out["promises"] = list(g("o_promise_to_pay", [None] * rows))
        out["promise_rate"] = _ratios(g("o_promise_to_pay", zero), rpc, 6)
        out["promise_amount"] = [{} for _ in range(rows)]  # filled from the dispositions by run_report
    return {m: out[m] for m in spec.metrics}


def _needs(name: str, metrics: tuple[str, ...]) -> frozenset[str]:
    """Which derived groups ``derive`` must compute for report ``name`` showing ``metrics``."""
    m = set(metrics)
    out = m & {"connect_rate", "agent_not_answered", "time_to_answer_mean", "talk_median"}
    if m & {"talk_total", "talk_mean"}:
        out.add("talk_total")
    if m & {"right_party_contacts", "right_party_rate"} or name == "outcomes":
        out.add("rpc")
    return frozenset(out)
