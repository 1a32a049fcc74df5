"""The exact per-hour source of every report: rolled-up clean hours plus raw calls for dirty and partial hours.

Used for the summed measures (``call_rollup_hourly``) and for the 1-second talk histogram
(``call_talk_hourly``): a clean hour is read from the rollup table, an hour marked dirty and the partial hours
at the edges of the range are aggregated from ``calls`` in the same statement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, Table, and_, literal, select, union_all

from analytics.metrics import ENTITY_DIMENSIONS
from analytics.models import DIM_COLUMNS, dirty, epoch_hour
from analytics.rollup import calls

if TYPE_CHECKING:
    from sqlalchemy import Subquery

    from analytics.reports import ReportQuery

DIM_COLUMN = dict(zip(ENTITY_DIMENSIONS, DIM_COLUMNS, strict=True))
DIMENSION_OF = {v: k for k, v in DIM_COLUMN.items()}
# (rollup columns, kept dimension columns, grouped dimension columns) -> (extra group-by columns, measures);
# extra None: the rows are read as stored, without a GROUP BY
CleanMeasures = Callable[[Any, list[Any], list[Any]], tuple[list[Any] | None, list[Any]]]
# () -> (SELECT hour, dims..., measures FROM calls, its GROUP BY list)
RawHourly = Callable[[], tuple[Any, list[Any]]]


def hourly_union(q: ReportQuery, table: Table, clean: CleanMeasures, raw: RawHourly) -> Subquery:
    """``SELECT hour, dims..., measures`` over [q.start, q.end) with q.filters, exact, as a subquery ``src``."""
    parts: list[Select[Any]] = []
    h0 = math.ceil(q.start.timestamp() / 3600) if q.start else None
    h1 = epoch_hour(q.end) if q.end else None
    if h0 is not None and h1 is not None and h0 >= h1:
        parts.append(_raw_part(q, raw, q.start, q.end))
    else:
        r = table.c
        cond: list[ColumnElement[bool]] = [r.hour.not_in(select(dirty.c.hour))]
        dcond: list[ColumnElement[bool]] = []
        if h0 is not None:
            cond.append(r.hour >= h0)
            dcond.append(dirty.c.hour >= h0)
        if h1 is not None:
            cond.append(r.hour < h1)
            dcond.append(dirty.c.hour < h1)
        cond += [r[DIM_COLUMN[d]].in_(v) for d, v in q.filters.items()]
        # pre-grouped by (hour, requested dimensions): on SQLite a prefix of the primary key streams without a sort
        kept = [r[d] if DIMENSION_OF[d] in q.group_by else literal("").label(d) for d in DIM_COLUMNS]
        grouped = [r[d] for d in DIM_COLUMNS if DIMENSION_OF[d] in q.group_by]
        extra, measures = clean(r, kept, grouped)
        part = select(r.hour, *kept, *measures).where(*cond)
        parts.append(part if extra is None else part.group_by(r.hour, *grouped, *extra))
        stmt, group = raw()
        join = and_(calls.c.created_at >= dirty.c.starts_at, calls.c.created_at < dirty.c.ends_at)
        parts.append(stmt.join(dirty, join).where(*dcond, *raw_filters(q)).group_by(*group))
        if q.start is not None and h0 is not None and hour_dt(h0) > q.start:
            parts.append(_raw_part(q, raw, q.start, hour_dt(h0)))
        if q.end is not None and h1 is not None and hour_dt(h1) < q.end:
            parts.append(_raw_part(q, raw, hour_dt(h1), q.end))
    return union_all(*parts).subquery("src")


def raw_filters(q: ReportQuery) -> list[ColumnElement[bool]]:
    """The query's dimension filters over the raw calls."""
    return [calls.c[DIM_COLUMN[d]].in_(v) for d, v in q.filters.items()]


def _raw_part(q: ReportQuery, raw: RawHourly, start: datetime | None, end: datetime | None) -> Any:
    stmt, group = raw()
    cond = raw_filters(q)
    if start is not None:
        cond.append(calls.c.created_at >= start)
    if end is not None:
        cond.append(calls.c.created_at < end)
    return stmt.where(*cond).group_by(*group)


def hour_dt(h: int) -> datetime:
    """The aware UTC start of epoch hour ``h``."""
    return datetime.fromtimestamp(h * 3600, UTC)
