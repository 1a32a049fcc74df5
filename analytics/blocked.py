"""Blocked attempts: refusals in the compliance decision log (``compliance_decisions``), counted apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, column, false, func, literal, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.query import ReportQuery, epoch_hour_sql
from analytics.timezones import local_minute, time_key, time_label
from db.base import UTCDateTime
from db.dialect import dialect_of, has_table

decisions = table(
    "compliance_decisions", column("at", UTCDateTime()), column("agent_id", String()),
    column("client_id", String()), column("allowed", Boolean()), column("kind", String()),
)
# a check (POST /v1/compliance/check: "would this dial be allowed?") is logged but is no attempt
NOT_ATTEMPTS = ("check",)
BLOCKED_DIMENSIONS = {"agent": "agent_id", "client": "client_id"}
TIME = ("day", "week", "month", "hour", "weekday")


async def blocked_counts(session: AsyncSession, q: ReportQuery,
                         segments: tuple[tuple[int, int], ...]) -> dict[tuple[Any, ...], int] | None:
    """Refused attempts per group key, or None when the log is absent or lacks a requested dimension."""
    dims = [d for d in (*q.group_by, *q.filters) if d not in TIME]
    if any(d not in BLOCKED_DIMENSIONS for d in dims) or not await has_table(session, "compliance_decisions"):
        return None
    d = decisions.c
    lm = local_minute(epoch_hour_sql(d.at, dialect_of(session)), segments)
    keys = [(time_key(g, lm) if g in TIME else func.coalesce(d[BLOCKED_DIMENSIONS[g]], literal(""))).label(g)
            for g in q.group_by]
    cond = [d.allowed == false(), d.kind.not_in(NOT_ATTEMPTS)]
    if q.start is not None:
        cond.append(d.at >= q.start)
    if q.end is not None:
        cond.append(d.at < q.end)
    cond += [d[BLOCKED_DIMENSIONS[f]].in_(v) for f, v in q.filters.items()]
    stmt = select(*keys, func.count()).where(*cond)
    if keys:
        stmt = stmt.group_by(*keys)
    out: dict[tuple[Any, ...], int] = {}
    for row in (await session.execute(stmt)).all():
        key = tuple(time_label(g, int(v)) if g in TIME else (v or None)
                    for g, v in zip(q.group_by, row[:-1], strict=True))
        out[key] = out.get(key, 0) + int(row[-1])
    return out
