"""Exact talk-time percentiles (median, p90) per report group, from the sparse 1-second talk histogram.

Talk seconds are rounded half up to whole seconds; the q-quantile is the nearest-rank value: the smallest
second whose cumulative count reaches ceil(q * n) (``analytics.picks``). On PostgreSQL, SQL does all the work
(group, running sum, pick) so only one row per group travels to Python; SQLite merges the histogram rows in
Python, and days of the daily rollup are picked by numpy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, collate, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.daily import DailyPlan, talk_grain
from analytics.grouping import group_index, label_columns
from analytics.measures import raw_talk, talk_second_sql
from analytics.metrics import PERCENTILES, TIME_DIMENSIONS
from analytics.models import talk_daily, talk_hist
from analytics.picks import pick, picks_off_loop, sql_picks
from analytics.query import DIM_COLUMN, Range, ReportQuery, day_key, time_keys
from analytics.sources import hourly_union, legs_talk_parts, talk_by_leg
from analytics.timezones import time_label
from db.dialect import dialect_of
from db.fetch import fetch_plain


@dataclass
class Percentiles:
    """Percentiles per group key (labelled like the report's rows) and over everything."""

    groups: dict[tuple[Any, ...], dict[str, float | None]] = field(default_factory=dict)
    totals: dict[str, float | None] = field(default_factory=dict)


def _month_label(day: Any, dialect: str) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.strftime("%Y-%m", day * 86400, "unixepoch")
    return func.to_char(func.timezone("UTC", func.to_timestamp(day * 86400)), "YYYY-MM")


def _clean(r: Any, _kept: list[Any], _grouped: list[Any]) -> tuple[list[Any], list[Any]]:
    return [r.sec], [r.sec, func.sum(r.n).label("n")]


def _as_stored(r: Any, _kept: list[Any], _grouped: list[Any]) -> tuple[None, list[Any]]:
    return None, [r.sec, r.n]


def _keys(src: Any, dialect: str, group_by: tuple[str, ...]) -> list[ColumnElement[Any]]:
    keys: list[ColumnElement[Any]] = []
    for d in group_by:
        if d == "month":
            k: Any = _month_label(src.c.k_month, dialect)  # the union's month key is the local day
        elif d in TIME_DIMENSIONS:
            k = src.c[f"k_{d}"]
        else:
            k = src.c[DIM_COLUMN[d]]
        keys.append(k.label(f"k_{d}"))
    return keys


def _source(dialect: str, q: ReportQuery, segments: tuple[tuple[int, int], ...], clean: Any,
            ranges: Sequence[Range] | None = None, *, by_leg: bool = False) -> Any:
    """The histogram source; ``by_leg``: with the legs' correction rows (signed counts, ``legs_talk_parts``)."""
    def keys(hour: Any) -> list[Any]:
        return time_keys(q.group_by, hour, segments)

    extra = legs_talk_parts(q, keys, dialect, lambda col: talk_second_sql(col, dialect)) if by_leg else ()
    return hourly_union(q, talk_hist, clean, lambda c: raw_talk(dialect, c), keys, dialect=dialect,
                        ranges=ranges, extra=extra)


def _source_by(dialect: str, q: ReportQuery, group_by: tuple[str, ...],
               segments: tuple[tuple[int, int], ...], clean: Any, *, by_leg: bool) -> Any:
    return _source(dialect, replace(q, group_by=group_by), segments, clean, by_leg=by_leg)


def histogram_stmt(dialect: str, q: ReportQuery, segments: tuple[tuple[int, int], ...],
                   ranges: Sequence[Range] | None = None, *, by_leg: bool = False) -> Any:
    """``SELECT keys..., sec, n``: the histogram rows as stored (SQLite path: Python merges and picks).

    ``by_leg``: plus the legs' signed correction rows, for the whole query range whatever ``ranges`` says.
    """
    src = _source(dialect, q, segments, _as_stored, ranges, by_leg=by_leg)
    return select(*_keys(src, dialect, q.group_by), src.c.sec, src.c.n)


# grouping by one of these leaves about one histogram row per group and second: pre-summing would not shrink
# the rows the window sorts, so they are read as stored
FINE_DIMENSIONS = ("agent", "day")


def percentile_stmt(dialect: str, q: ReportQuery, group_by: tuple[str, ...],
                    segments: tuple[tuple[int, int], ...], *, by_leg: bool = False) -> Any:
    """``SELECT keys..., talk_median, talk_p90`` grouped by ``group_by`` (one row per non-empty group).

    The running sum needs no prior merge of equal (group, second) rows: its default RANGE frame takes all
    rows of the same second together, so every row of a second carries the same cumulative count. That holds
    with the legs' signed rows too (``by_leg``): a second's net count is never negative.
    """
    fine = any(d in FINE_DIMENSIONS for d in group_by)
    src = _source_by(dialect, q, group_by, segments, _as_stored if fine else _clean, by_leg=by_leg)
    keys = _keys(src, dialect, group_by)
    # partitions only need equal keys grouped, not ordered by the locale: byte order sorts text ~1.5x faster
    exprs = [collate(k.element, "C") if d in DIM_COLUMN and dialect == "postgresql" else k.element
             for d, k in zip(group_by, keys, strict=True)]
    part = exprs or None
    run = select(*keys, src.c.sec,
                 func.sum(src.c.n).over(partition_by=part, order_by=src.c.sec).label("cum"),
                 func.sum(src.c.n).over(partition_by=part).label("tot")).subquery("run")
    rkeys = [run.c[f"k_{d}"] for d in group_by]
    out = select(*rkeys, *sql_picks(run.c.sec, run.c.cum, run.c.tot))
    return out.group_by(*rkeys) if rkeys else out


def _label(dim: str, value: Any) -> Any:
    if dim == "month":
        return str(value)
    if dim in TIME_DIMENSIONS:
        return time_label(dim, int(value))
    return value or None


async def talk_percentiles(session: AsyncSession, q: ReportQuery, segments: tuple[tuple[int, int], ...],
                           days: DailyPlan | None = None) -> Percentiles:
    """Exact talk percentiles for every group of ``q`` and for the whole report."""
    dialect = dialect_of(session)
    grain = talk_grain(DIM_COLUMN[d] for d in (*q.filters, *q.group_by) if d not in TIME_DIMENSIONS)
    by_leg = talk_by_leg(q)  # per person: each leg of a transferred call is a sample; otherwise the call
    if days is not None and grain is not None:
        return await _from_days(session, q, segments, days, grain, by_leg=by_leg)
    if dialect == "sqlite":
        return await _merged_in_python(session, q, segments, by_leg=by_leg)
    out = Percentiles()
    names = list(PERCENTILES)
    n = len(q.group_by)
    if n:
        for rec in (await session.execute(percentile_stmt(dialect, q, q.group_by, segments, by_leg=by_leg))).all():
            key = tuple(_label(d, v) for d, v in zip(q.group_by, rec[:n], strict=True))
            out.groups[key] = {m: _num(v) for m, v in zip(names, rec[n:], strict=True)}
    total = (await session.execute(percentile_stmt(dialect, q, (), segments, by_leg=by_leg))).first()
    out.totals = {m: _num(v) for m, v in zip(names, total or (None,) * len(names), strict=True)}
    if not n:
        out.groups[()] = out.totals
    return out


async def _from_days(session: AsyncSession, q: ReportQuery, segments: tuple[tuple[int, int], ...],
                     days: DailyPlan, grain: int, *, by_leg: bool) -> Percentiles:
    """The planned days' packed talk seconds plus the rest's histogram rows, merged by numpy (both dialects).

    ``by_leg``: the legs' signed correction rows come with the rest's (they cover the whole range).
    """
    dialect = dialect_of(session)
    d = talk_daily.c
    keys: list[Any] = []
    for dim in q.group_by:
        if dim == "month":
            keys.append(_month_label(d.day, dialect))
        elif dim in TIME_DIMENSIONS:
            keys.append(day_key(dim, d.day))
        else:
            keys.append(d[DIM_COLUMN[dim]])
    cond = [*days.where(d), d.grain == grain, *(d[DIM_COLUMN[k]].in_(v) for k, v in q.filters.items())]
    rows = await fetch_plain(session, select(*keys, d.secs).where(*cond))
    hist_rows = (await fetch_plain(session, histogram_stmt(dialect, q, segments, days.rest, by_leg=by_leg))
                 if days.rest or by_leg else [])
    n = len(q.group_by)
    index: dict[tuple[Any, ...], int] = {}
    blobs: list[tuple[int, bytes]] = []
    hist: list[tuple[int, int, int]] = []
    if rows:
        raw = list(zip(*rows, strict=True))
        _, gids = group_index(label_columns(q.group_by, raw[:n], _label), len(rows), index)
        blobs = list(zip(gids, raw[n], strict=True))
    if hist_rows:
        raw = list(zip(*hist_rows, strict=True))
        _, gids = group_index(label_columns(q.group_by, raw[:n], _label), len(hist_rows), index)
        hist = list(zip(gids, raw[n], raw[n + 1], strict=True))
    per, totals = await picks_off_loop(blobs, hist, len(index))
    out = Percentiles(totals=totals, groups={key: per[g] for key, g in index.items()})
    if not n:
        out.groups[()] = out.totals
    return out


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


async def _merged_in_python(session: AsyncSession, q: ReportQuery,
                            segments: tuple[tuple[int, int], ...], *, by_leg: bool) -> Percentiles:
    """SQLite: stream the stored histogram rows and merge them off the event loop.

    SQLite's window functions cost about 1 us per row and pass; one scan of the (clustered) histogram plus a
    dictionary merge is about three times faster. The figures are the same nearest-rank values.
    """
    # the driver's plain tuples: ~2x cheaper than ORM rows for a few hundred thousand histogram rows
    rows = await fetch_plain(session, histogram_stmt("sqlite", q, segments, by_leg=by_leg))
    return await asyncio.to_thread(merge_rows, q.group_by, rows)


def merge_rows(group_by: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> Percentiles:
    """Percentiles from ``(keys..., sec, n)`` rows (pure; any order, keys repeated, ``n`` signed as long as
    each (key, second)'s sum is not negative)."""
    n = len(group_by)
    hists: dict[tuple[Any, ...], dict[int, int]] = {}
    total: dict[int, int] = {}
    hget = hists.get
    tget = total.get
    # one pass, two dictionary updates a row: this loop is the SQLite talk report's hot spot
    for rec in rows:
        key = tuple(rec[:n])
        sec = int(rec[n])
        cnt = rec[n + 1]
        hist = hget(key)
        if hist is None:
            hists[key] = {sec: cnt}
        else:
            hist[sec] = hist.get(sec, 0) + cnt
        total[sec] = tget(sec, 0) + cnt
    out = Percentiles(totals=pick(total))
    for raw_key, hist in hists.items():
        out.groups[tuple(_label(d, v) for d, v in zip(group_by, raw_key, strict=True))] = pick(hist)
    if not n:
        out.groups[()] = out.totals
    return out
