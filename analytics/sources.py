"""The exact per-hour source of every report: rolled-up clean hours plus raw calls for dirty and partial hours.

Used for the summed measures (``call_rollup_hourly``) and for the 1-second talk histogram
(``call_talk_hourly``): a clean hour is read from the rollup table, an hour marked dirty and the partial hours
at the edges of the range are aggregated from ``calls`` in the same statement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Table,
    all_,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    true,
    union_all,
)

from analytics.measures import calls, legs
from analytics.models import DIM_COLUMNS, dirty, epoch_hour, hour_start
from analytics.query import DIM_COLUMN, DIMENSION_OF, Range, ReportQuery, epoch_hour_sql

# (rollup columns, kept dimension columns, grouped dimension columns) -> (extra group-by columns, measures);
# extra None: the rows are read as stored, without a GROUP BY
CleanMeasures = Callable[[Any, list[Any], list[Any]], tuple[list[Any] | None, list[Any]]]
# (calls columns) -> (measures, extra group-by columns, WHERE conditions) over raw calls
RawMeasures = Callable[[Any], tuple[list[Any], list[Any], list[Any]]]
# (SQL epoch hour) -> the labelled time keys ``k_<dim>`` of the report's time dimensions
TimeKeys = Callable[[Any], list[Any]]


def hourly_union(q: ReportQuery, table: Table, clean: CleanMeasures, raw: RawMeasures, keys: TimeKeys, *,
                 dialect: str, ranges: Sequence[Range] | None = None, extra: Sequence[Select[Any]] = ()) -> Subquery:
    """``SELECT k_<time dim>..., dims..., measures`` over [q.start, q.end) with q.filters, exact, as ``src``.

    Every part is already grouped by the time keys and the requested dimensions (the time keys are computed
    from the part's epoch hour, so the zone's offset ``CASE`` runs once per rollup row, never per call); the
    caller sums the parts again by the same keys. ``ranges``: read these UTC ranges instead of the query's
    (the rest of a daily plan, ``analytics.daily``); ``extra``: parts of the same shape to add (the days).
    """
    parts: list[Select[Any]] = list(extra)
    for start, end in ([(q.start, q.end)] if ranges is None else ranges):
        parts += hourly_parts(q, table, clean, raw, keys, dialect=dialect, start=start, end=end)
    return union_all(*parts).subquery("src")


def hourly_parts(q: ReportQuery, table: Table, clean: CleanMeasures, raw: RawMeasures, keys: TimeKeys, *,
                 dialect: str, start: datetime | None, end: datetime | None) -> list[Select[Any]]:
    """The parts of ``hourly_union`` for the UTC range [start, end): clean hours, dirty hours, partial edges."""
    parts: list[Select[Any]] = []
    h0 = math.ceil(start.timestamp() / 3600) if start else None
    h1 = epoch_hour(end) if end else None
    if h0 is not None and h1 is not None and h0 >= h1:
        parts.append(_raw_part(q, raw, keys, dialect, start=start, end=end))
    else:
        r = table.c
        cond: list[ColumnElement[bool]] = [_not_dirty(r.hour, dialect)]
        dcond: list[ColumnElement[bool]] = []
        if h0 is not None:
            cond.append(r.hour >= h0)
            dcond.append(dirty.c.hour >= h0)
        if h1 is not None:
            cond.append(r.hour < h1)
            dcond.append(dirty.c.hour < h1)
        cond += [r[DIM_COLUMN[d]].in_(v) for d, v in q.filters.items()]
        kept = [r[d] if DIMENSION_OF[d] in q.group_by else literal("").label(d) for d in DIM_COLUMNS]
        grouped = [r[d] for d in DIM_COLUMNS if DIMENSION_OF[d] in q.group_by]
        extra, measures = clean(r, kept, grouped)
        tkeys = keys(r.hour)
        part = select(*tkeys, *kept, *measures).where(*cond)
        parts.append(part if extra is None else part.group_by(*tkeys, *grouped, *extra))
        parts.append(_dirty_part(q, raw, keys, dialect, dcond))
        if start is not None and h0 is not None and hour_start(h0) > start:
            parts.append(_raw_part(q, raw, keys, dialect, start=start, end=hour_start(h0)))
        if end is not None and h1 is not None and hour_start(h1) < end:
            parts.append(_raw_part(q, raw, keys, dialect, start=hour_start(h1), end=end))
    return parts


def _not_dirty(hour: ColumnElement[int], dialect: str) -> ColumnElement[bool]:
    """SQL: ``hour`` has no dirty mark."""
    if dialect == "postgresql":
        # hour <> ALL(array of marks): an InitPlan computed once, so the rollup scan may run in parallel
        # (NOT IN (subquery) is a parallel-restricted SubPlan; NOT EXISTS becomes a per-row anti-join loop)
        marks = select(func.array_agg(dirty.c.hour)).scalar_subquery()
        return hour != all_(func.coalesce(marks, literal_column("'{}'::bigint[]")))
    return hour.not_in(select(dirty.c.hour))


def raw_filters(q: ReportQuery) -> list[ColumnElement[bool]]:
    """The query's dimension filters over the raw calls."""
    return [calls.c[DIM_COLUMN[d]].in_(v) for d, v in q.filters.items()]


def _raw_dims(q: ReportQuery) -> tuple[list[Any], list[Any]]:
    kept = [func.coalesce(calls.c[d], literal("")).label(d) if DIMENSION_OF[d] in q.group_by
            else literal("").label(d) for d in DIM_COLUMNS]
    return kept, [calls.c[d] for d in DIM_COLUMNS if DIMENSION_OF[d] in q.group_by]


def _dirty_part(q: ReportQuery, raw: RawMeasures, keys: TimeKeys, dialect: str,
                dcond: list[ColumnElement[bool]]) -> Any:
    """The dirty hours from the raw calls, each hour one range scan of ``calls(created_at)``."""
    kept, grouped = _raw_dims(q)
    measures, extra, where = raw(calls.c)
    inside = [calls.c.created_at >= dirty.c.starts_at, calls.c.created_at < dirty.c.ends_at]
    if dialect == "postgresql":
        # LATERAL with an aggregate cannot be flattened: the plan is a loop over the (few) marks with an index
        # range scan each, whatever the planner believes about the size of the volatile marks table
        per_hour = (select(*kept, *measures).where(*inside, *where, *raw_filters(q))
                    .group_by(*grouped, *extra).lateral("per_hour"))
        return select(*keys(dirty.c.hour), *per_hour.c).select_from(dirty.join(per_hour, true())).where(*dcond)
    tkeys = keys(dirty.c.hour)
    return (select(*tkeys, *kept, *measures).select_from(dirty.join(calls, and_(*inside)))
            .where(*dcond, *where, *raw_filters(q)).group_by(*tkeys, *grouped, *extra))


def _raw_part(q: ReportQuery, raw: RawMeasures, keys: TimeKeys, dialect: str, *,
              start: datetime | None, end: datetime | None) -> Any:
    kept, grouped = _raw_dims(q)
    measures, extra, where = raw(calls.c)
    cond = [*where, *raw_filters(q)]
    if start is not None:
        cond.append(calls.c.created_at >= start)
    if end is not None:
        cond.append(calls.c.created_at < end)
    tkeys = keys(epoch_hour_sql(calls.c.created_at, dialect))
    return select(*tkeys, *kept, *measures).select_from(calls).where(*cond).group_by(*tkeys, *grouped, *extra)


#: the measures a transferred call's legs re-attribute (the rest stay with the call and its placing agent)
LEG_MEASURES = ("talk_n", "talk_sum")


def legs_part(q: ReportQuery, names: Sequence[str], keys: TimeKeys, dialect: str) -> Select[Any] | None:
    """Talk time by leg: how a transferred call's talk moves from its placing agent to each agent who talked.

    A call without legs (no transfer) adds nothing. A call with legs keeps its attempt, connection, outcome
    and time to answer on its own row (its placing agent); here its whole talk is taken back from that row and
    each leg with a talk time adds its own (leg 1: the placing agent until the hand-over; a target or back leg:
    its agent and team; an outside party's leg, a transfer to a number, adds nothing: that talk is no agent's).
    One row per leg, keyed like the call (its hour, its client, batch, number kind and
    direction), so the union sums it into the same groups. Always read from ``calls`` and ``call_legs``, never
    from the rollup: it corrects the rollup's and the raw parts' per-call talk alike. None when ``names``
    holds none of ``LEG_MEASURES``.
    """
    if not set(names) & set(LEG_MEASURES):
        return None
    c, leg = calls.c, legs.c
    measures = {
        "talk_n": func.sum(case((_LEG_TALK, 1), else_=0) - case((_CALL_TALK, 1), else_=0)),
        "talk_sum": func.sum(case((_LEG_TALK, leg.talk_seconds), else_=0.0)
                             - case((_CALL_TALK, c.talk_seconds), else_=0.0)),
    }
    kept, grouped, cond = _leg_dims(q, _leg_dim)
    tkeys = keys(epoch_hour_sql(c.created_at, dialect))
    cols = [measures[n].label(n) if n in measures else literal(0).label(n) for n in names]
    return (select(*tkeys, *kept, *cols).select_from(_legs_join(dialect))
            .where(*cond).group_by(*tkeys, *grouped))


#: the dimensions that follow the agent of each leg (a person, or the team of that person)
PERSON_DIMENSIONS = ("agent", "team")


def talk_by_leg(q: ReportQuery) -> bool:
    """Whether ``q``'s talk samples are legs (grouped or filtered by a person) rather than whole calls."""
    return any(d in PERSON_DIMENSIONS for d in (*q.group_by, *q.filters))


def legs_talk_parts(q: ReportQuery, keys: TimeKeys, dialect: str,
                    second: Callable[[Any], Any]) -> list[Select[Any]]:
    """The talk histogram's correction by leg: two parts ``SELECT k_<time dim>..., dims..., sec, n`` with signed ``n``.

    For each transferred call with a talk time, -1 at the call's whole talk second under its placing agent
    (the sample the rollup and the raw parts hold), and +1 at each leg's own talk second under the leg's
    agent and team, keyed like the call otherwise (as ``legs_part``). Summed with the histogram, every
    (group, second) count is again the exact number of conversations. ``second``: the rounding to seconds
    (``analytics.measures.talk_second_sql``). Only for reports whose samples are legs (``talk_by_leg``).
    """
    c, leg = calls.c, legs.c
    parts: list[Select[Any]] = []
    for sample, sign, dim in ((c.talk_seconds, -1, _call_dim), (leg.talk_seconds, 1, _leg_dim)):
        kept, grouped, cond = _leg_dims(q, dim)
        has = _CALL_TALK if sign < 0 else _LEG_TALK
        tkeys = keys(epoch_hour_sql(c.created_at, dialect))
        sec = second(sample)
        parts.append(select(*tkeys, *kept, sec.label("sec"), (func.count() * sign).label("n"))
                     .select_from(_legs_join(dialect))
                     .where(has, *cond).group_by(*tkeys, *grouped, sec))
    return parts


_FIRST = legs.c.seq == 1
# the call's own talk sample (counted once, on its first leg's row), and a leg's
_CALL_TALK = and_(_FIRST, calls.c.answered_at.is_not(None), calls.c.talk_seconds.is_not(None))
_LEG_TALK = and_(legs.c.answered_at.is_not(None), legs.c.talk_seconds.is_not(None))


def _legs_join(dialect: str) -> Any:
    """``call_legs JOIN calls``, driven from the legs (a few) with each call found by its primary key.

    SQLite would rather scan every call and look its legs up (a ~1 s scan at a million calls, with no legs at
    all); ``|| ''`` keeps it from searching ``call_legs`` by ``call_id``, so it scans the legs instead.
    """
    on = legs.c.call_id.concat("") if dialect == "sqlite" else legs.c.call_id
    return legs.join(calls, calls.c.id == on)


def _call_dim(d: str) -> Any:
    return calls.c[d]


def _leg_dim(d: str) -> Any:
    """A dimension column of a leg: its agent and team (leg 1: the call's), the call's other dimensions."""
    if d == "agent_id":
        return case((_FIRST, calls.c.agent_id), else_=legs.c.user_id)
    if d == "team":
        return case((_FIRST, calls.c.team), else_=legs.c.team)
    return calls.c[d]


def _leg_dims(q: ReportQuery, dim: Callable[[str], Any]) -> tuple[list[Any], list[Any], list[ColumnElement[bool]]]:
    """(kept dimension columns, GROUP BY columns, WHERE conditions) of a part over ``call_legs`` x ``calls``."""
    kept = [func.coalesce(dim(d), literal("")).label(d) if DIMENSION_OF[d] in q.group_by
            else literal("").label(d) for d in DIM_COLUMNS]
    grouped = [dim(d) for d in DIM_COLUMNS if DIMENSION_OF[d] in q.group_by]
    cond: list[ColumnElement[bool]] = [dim(DIM_COLUMN[d]).in_(v) for d, v in q.filters.items()]
    cond.append(legs.c.role != "outside")  # an outside party's talk is no agent's
    if q.start is not None:
        cond.append(calls.c.created_at >= q.start)
    if q.end is not None:
        cond.append(calls.c.created_at < q.end)
    return kept, grouped, cond
