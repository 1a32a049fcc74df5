"""Shared helpers for the compliance tests: explicit instants only, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from compliance.decision import DialContext
from compliance.policy import Policy, WeeklyWindows, interval


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """An aware local datetime converted to UTC."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def window_policy(start: str, end: str, **kw: object) -> Policy:
    """A policy with the same single interval every day and nothing else."""
    return Policy(id="T", name="test", windows=WeeklyWindows.every_day(interval(start, end)), **kw)  # type: ignore[arg-type]


@pytest.fixture
def cn_ctx() -> DialContext:
    return DialContext(number="+8613800138000", case_id="case-1")
