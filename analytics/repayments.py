"""Repayment statistics (还款统计): amounts collected and promises to pay made, kept, partial and broken.

Read from ``payments`` (bucketed by ``paid_at``) and ``promises`` (bucketed by ``promised_at``, the start of
the call the promise was taken on, with the status the database holds now), each grouped in SQL by the
requested dimensions and the local-time keys of the report zone (``analytics.timezones``), then merged by
label in Python (months are merged from days). Both tables are small next to calls: no rollup.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.metrics import TIME_DIMENSIONS
from analytics.query import Report, ReportQuery, ReportSpec, epoch_hour_sql
from analytics.timezones import local_minute, offset_segments, time_key, time_label
from db.dialect import dialect_of
from payments.models import Payment, Promise

payments_t: Table = Payment.__table__  # type: ignore[assignment]
promises_t: Table = Promise.__table__  # type: ignore[assignment]
COLUMN = {"agent": "agent_id", "team": "team", "client": "client_id", "batch": "batch_id"}
Key = tuple[Any, ...]
STATUSES = ("kept", "broken", "partial", "pending")
EMPTY = [0] * (1 + len(STATUSES))  # made, then one count per status


async def repayments(session: AsyncSession, q: ReportQuery, spec: ReportSpec) -> Report:
    """The ``repayments`` report over [start, end) in zone ``q.tz``."""
    dialect = dialect_of(session)
    collected: dict[Key, dict[str, Any]] = {}
    made: dict[Key, list[int]] = {}
    p, r = payments_t.c, promises_t.c
    pay_stmt = _grouped(q, payments_t, p.paid_at, dialect, await _segments(session, q, p.paid_at),
                        more_keys=[p.currency], measures=[func.count(), func.sum(p.amount)])
    n = len(q.group_by)
    for rec in (await session.execute(pay_stmt)).all():
        key = _key(q.group_by, rec[:n])
        acc = collected.setdefault(key, {"payments": 0, "collected": {}})
        acc["payments"] += int(rec[n + 1])
        cur = str(rec[n])
        acc["collected"][cur] = acc["collected"].get(cur, Decimal(0)) + Decimal(str(rec[n + 2]))
    counts = [func.count(), *(func.sum(case((r.status == s, 1), else_=0)) for s in STATUSES)]
    prom_stmt = _grouped(q, promises_t, r.promised_at, dialect, await _segments(session, q, r.promised_at),
                         more_keys=[], measures=counts)
    for rec in (await session.execute(prom_stmt)).all():
        key = _key(q.group_by, rec[:n])
        acc2 = made.setdefault(key, list(EMPTY))
        for i in range(len(EMPTY)):
            acc2[i] += int(rec[n + i] or 0)
    rows = []
    total_pay: dict[str, Any] = {"payments": 0, "collected": {}}
    total_made = list(EMPTY)
    for key in sorted(set(collected) | set(made), key=lambda k: tuple("" if v is None else str(v) for v in k)):
        pay = collected.get(key, {"payments": 0, "collected": {}})
        prom = made.get(key, EMPTY)
        total_pay["payments"] += pay["payments"]
        for cur, amount in pay["collected"].items():
            total_pay["collected"][cur] = total_pay["collected"].get(cur, Decimal(0)) + amount
        total_made = [a + b for a, b in zip(total_made, prom, strict=True)]
        rows.append({**dict(zip(q.group_by, key, strict=True)), **_metrics(pay, prom)})
    return Report(spec.name, spec.title, [*q.group_by, *spec.metrics], rows, _metrics(total_pay, total_made), q,
                  ["collected: by the time paid; promises: by the call they were taken on, with their status now"])


def _grouped(q: ReportQuery, table: Table, at: Any, dialect: str, segments: tuple[tuple[int, int], ...], *,
             more_keys: Sequence[Any], measures: Sequence[Any]) -> Any:
    """SELECT keys..., more_keys..., measures... FROM table WHERE range and filters GROUP BY the keys."""
    c = table.c
    keys: list[Any] = []
    for dim in q.group_by:
        if dim in TIME_DIMENSIONS:
            keys.append(time_key(dim, local_minute(epoch_hour_sql(at, dialect), segments)).label(f"k_{dim}"))
        else:
            keys.append(c[COLUMN[dim]].label(f"k_{dim}"))
    cond = [c[COLUMN[f]].in_(vals) for f, vals in q.filters.items()]
    if q.start is not None:
        cond.append(at >= q.start)
    if q.end is not None:
        cond.append(at < q.end)
    return select(*keys, *more_keys, *measures).where(*cond).group_by(*keys, *more_keys)


async def _segments(session: AsyncSession, q: ReportQuery, at: Any) -> tuple[tuple[int, int], ...]:
    """The zone's offset segments over the hours the report reads (the data's own span when unbounded)."""
    if not any(d in TIME_DIMENSIONS for d in q.group_by):
        return ((0, 0),)
    lo, hi = q.start, q.end
    if lo is None or hi is None:
        first, last = (await session.execute(select(func.min(at), func.max(at)))).one()
        lo = lo or first
        hi = hi or last
    if lo is None or hi is None:
        return ((0, 0),)
    h0, h1 = int(lo.timestamp() // 3600), int(hi.timestamp() // 3600)
    return offset_segments(q.tz, h0, max(h0, h1))


def _key(group_by: tuple[str, ...], values: Sequence[Any]) -> Key:
    return tuple(time_label(d, int(v)) if d in TIME_DIMENSIONS else (v or None)
                 for d, v in zip(group_by, values, strict=True))


def _metrics(pay: dict[str, Any], prom: Sequence[int]) -> dict[str, Any]:
    made, kept, broken, partial, pending = prom
    decided = kept + broken + partial  # a partial promise was not kept
    return {"payments": pay["payments"],
            "collected": {k: f"{v:.2f}" for k, v in sorted(pay["collected"].items())},
            "promises_made": made, "promises_kept": kept, "promises_broken": broken,
            "promises_partial": partial, "promises_pending": pending,
            "kept_rate": round(kept / decided, 6) if decided else None}
