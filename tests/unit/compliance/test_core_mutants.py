"""Compliance corners the mutation run found untested (the host's own time zone never leaks into a result)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from compliance.decision import Decision, fmt_instant
from compliance.ledger import day_start, ledger_ranges, next_day_start

NOW = datetime(2026, 3, 6, 4, 30, 15, 123456, tzinfo=UTC)  # 23:30:15 on 5 March in New York


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone is New York (the service must not care)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_without_a_zone_the_day_is_the_utc_day(host_in_new_york: None):
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert day_start(shanghai, []) == (datetime(2026, 3, 6, tzinfo=UTC), "UTC")
    assert next_day_start(shanghai, []) == datetime(2026, 3, 7, tzinfo=UTC)
    ranges = ledger_ranges(shanghai, [])
    assert ranges.now == NOW and ranges.now.utcoffset() == timedelta(0)
    assert ranges.day_start_utc == datetime(2026, 3, 6, tzinfo=UTC) and ranges.day_zone == "UTC"
    assert ranges.rolling_7d_start_utc == NOW - timedelta(days=7)


def test_instants_are_written_in_utc_whatever_the_host_zone(host_in_new_york: None):
    assert fmt_instant(NOW) == "2026-03-06 04:30 UTC"
    assert fmt_instant(NOW, "Asia/Shanghai") == "2026-03-06 04:30 UTC (2026-03-06 12:30 in Asia/Shanghai)"


def test_a_decision_as_plain_json_types():
    d = Decision(allowed=True, message="ok", evaluated_at=NOW, next_allowed_at=NOW)
    assert d.to_dict()["evaluated_at"] == d.to_dict()["next_allowed_at"] == "2026-03-06T04:30:15.123456Z"
