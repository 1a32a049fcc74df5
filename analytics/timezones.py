"""Local-time buckets of UTC epoch hours, computed in SQL identically on SQLite and PostgreSQL.

The rollup is keyed by UTC hour. For a report read in zone Z we compute, in Python with zoneinfo, the
piecewise-constant UTC offset of Z over the report's hours (one segment per DST change) and hand SQL a
``CASE`` over those segments: local minute = hour * 60 + offset(hour). Day, week, hour-of-day and weekday
are integer arithmetic on that (months are merged from days in Python). This is exact for zones whose
offset is a whole number of hours (each UTC hour lies inside one local hour); for half-hour zones each UTC
hour is assigned to the local bucket its start falls in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, literal

EPOCH = date(1970, 1, 1)


def offset_min(tz: ZoneInfo, hour: int) -> int:
    """The UTC offset of ``tz`` in minutes at the start of UTC epoch ``hour``."""
    off = datetime.fromtimestamp(hour * 3600, UTC).astimezone(tz).utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


@lru_cache(maxsize=256)
def offset_segments(tz: ZoneInfo, h0: int, h1: int) -> tuple[tuple[int, int], ...]:
    """``(first hour, offset minutes)`` segments covering UTC hours [h0, h1], in order."""
    segs = [(h0, offset_min(tz, h0))]
    prev = h0
    for h in range(h0 + 24, h1 + 24, 24):
        h = min(h, h1)
        off = offset_min(tz, h)
        if off != segs[-1][1]:
            # the change lies in (prev, h]: find its first hour
            for x in range(prev + 1, h + 1):
                if offset_min(tz, x) != segs[-1][1]:
                    segs.append((x, offset_min(tz, x)))
                    break
        prev = h
        if h == h1:
            break
    return tuple(segs)


def local_minute(hour: Any, segments: tuple[tuple[int, int], ...]) -> Any:
    """SQL: local minutes since the epoch of the start of UTC epoch ``hour``."""
    if len(segments) == 1:
        return hour * 60 + literal(segments[0][1])
    whens = [(hour < segments[i + 1][0], literal(off)) for i, (_, off) in enumerate(segments[:-1])]
    return hour * 60 + case(*whens, else_=literal(segments[-1][1]))


def time_key(dim: str, local_min: Any) -> ColumnElement[int]:
    """SQL integer key of a time dimension (``month`` groups by day; Python merges the days)."""
    day = local_min // 1440
    if dim in ("day", "month"):
        return day  # type: ignore[no-any-return]
    if dim == "week":
        return (day + 3) // 7  # type: ignore[no-any-return]
    if dim == "hour":
        return (local_min // 60) % 24  # type: ignore[no-any-return]
    if dim == "weekday":
        return (day + 3) % 7 + 1  # type: ignore[no-any-return]
    raise ValueError(dim)


def time_label(dim: str, key: int) -> str | int:
    """The label of a time key: dates as ISO text, hour and weekday as numbers."""
    if dim == "day":
        return (EPOCH + timedelta(days=key)).isoformat()
    if dim == "month":
        return (EPOCH + timedelta(days=key)).strftime("%Y-%m")
    if dim == "week":
        return (EPOCH + timedelta(days=key * 7 - 3)).isoformat()
    return int(key)


def local_key(dim: str, at: datetime, tz: ZoneInfo) -> int:
    """The same key computed in Python for one instant (used for rows aggregated outside SQL)."""
    local = at.astimezone(tz)
    off = local.utcoffset()
    minute = int(at.timestamp() // 3600) * 60 + (int(off.total_seconds() // 60) if off else 0)
    if dim in ("day", "month"):
        return minute // 1440
    if dim == "week":
        return (minute // 1440 + 3) // 7
    if dim == "hour":
        return (minute // 60) % 24
    if dim == "weekday":
        return (minute // 1440 + 3) % 7 + 1
    raise ValueError(dim)
