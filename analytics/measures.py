"""Call measures over the raw ``calls`` rows, as SQL aggregates: the one definition the rollup and the reports share.

The rollup stores these aggregates per hour; a report reads them from the raw calls for the hours the rollup
cannot vouch for (dirty or partial), so both must be the same expressions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, literal, select

from analytics.metrics import COMPOSITES, END_REASONS, INVALID_NUMBER_CAUSES, OUTCOMES
from analytics.models import DIM_COLUMNS, MEASURE_COLUMNS
from analytics.query import epoch_hour_sql
from dialer.models import Call, CallLeg

calls = Call.__table__
legs = CallLeg.__table__


def _n(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def raw_measures(names: tuple[str, ...] = MEASURE_COLUMNS, c: Any = calls.c) -> list[ColumnElement[Any]]:
    """Aggregates over raw calls (columns ``c``), one per rollup measure column in ``names``, labelled like it."""
    connected = c.answered_at.is_not(None)
    talk = c.talk_seconds
    has_talk = and_(connected, talk.is_not(None))
    out: dict[str, ColumnElement[Any]] = {
        "attempts": func.count(),
        "connected": _n(connected),
        "in_progress": _n(c.end_reason.is_(None)),
        **{r: _n(c.end_reason == r) for r in END_REASONS},
        "invalid_number": _n(and_(c.answered_at.is_(None), c.hangup_cause.in_(INVALID_NUMBER_CAUSES))),
        **{f"o_{o}": _n(c.outcome == o) for o in OUTCOMES},
        "talk_n": _n(has_talk),
        "tta_n": _n(and_(connected, c.ring_seconds.is_not(None))),
        "talk_sum": func.coalesce(func.sum(case((has_talk, talk), else_=None)), 0.0),
        "tta_sum": func.coalesce(func.sum(case((connected, c.ring_seconds), else_=None)), 0.0),
    }
    return [(out[name] if name in out else sum_of(out, COMPOSITES[name])).label(name) for name in names]


def sum_of(cols: Any, names: tuple[str, ...]) -> Any:
    """``cols[a] + cols[b] + ...`` (one aggregate over a sum is cheaper than one aggregate per column)."""
    expr = cols[names[0]]
    for n in names[1:]:
        expr = expr + cols[n]
    return expr


def raw_hourly(dialect: str, names: tuple[str, ...] = MEASURE_COLUMNS) -> tuple[Any, list[Any]]:
    """``SELECT hour, dims..., measures FROM calls`` (caller adds WHERE/joins), and its GROUP BY list."""
    hour = epoch_hour_sql(calls.c.created_at, dialect)
    dims = [func.coalesce(calls.c[d], literal("")).label(d) for d in DIM_COLUMNS]
    stmt = select(hour.label("hour"), *dims, *raw_measures(names)).select_from(calls)
    return stmt, [hour, *(calls.c[d] for d in DIM_COLUMNS)]


def talk_second_sql(col: Any, dialect: str) -> ColumnElement[int]:
    """SQL: talk seconds rounded half up to a whole second (the unit of the exact talk percentiles)."""
    if dialect == "sqlite":
        return cast(col + 0.5, BigInteger)  # CAST truncates; talk is never negative
    return cast(func.floor(col + 0.5), BigInteger)


def raw_talk(dialect: str, c: Any = calls.c) -> tuple[list[Any], list[Any], list[Any]]:
    """Talk histogram over raw calls ``c``: (``sec``, ``n`` columns, extra GROUP BY, WHERE conditions)."""
    sec = talk_second_sql(c.talk_seconds, dialect)
    return ([sec.label("sec"), func.count().label("n")], [sec],
            [c.answered_at.is_not(None), c.talk_seconds.is_not(None)])


def raw_talk_hourly(dialect: str) -> tuple[Any, list[Any]]:
    """``SELECT hour, dims..., sec, n FROM calls`` over connected calls with a talk time, and its GROUP BY."""
    hour = epoch_hour_sql(calls.c.created_at, dialect)
    cols, extra, where = raw_talk(dialect)
    dims = [func.coalesce(calls.c[d], literal("")).label(d) for d in DIM_COLUMNS]
    stmt = select(hour.label("hour"), *dims, *cols).select_from(calls).where(*where)
    return stmt, [hour, *(calls.c[d] for d in DIM_COLUMNS), *extra]
