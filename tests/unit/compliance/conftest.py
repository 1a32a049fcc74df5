"""Shared helpers for the compliance tests: explicit instants only, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from compliance.decision import DialContext
from compliance.policy import Policy, WeeklyWindows, interval


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    """An aware local wall-clock datetime, converted to UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def window_policy(start: str, end: str, **kw: object) -> Policy:
    """A policy with the same single interval every day and nothing else."""
    return Policy(id="T", name="test", windows=WeeklyWindows.every_day(interval(start, end)), **kw)


@pytest.fixture
def cn_ctx() -> DialContext:
    return DialContext(number="+8613800138000", case_id="case-1")
