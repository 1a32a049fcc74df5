"""Pure rules: the recording state machine, key naming, retention, backoff, Range parsing, sampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from recordings.errors import InvalidTransition
from recordings.policy import backoff_s, recording_key, retain_until, retention_days
from recordings.qa import stratified_sample
from recordings.ranges import parse_range
from recordings.states import RecordingState as S
from recordings.states import advance, can_move
from recordings.storage import RangeNotSatisfiable


def test_state_machine_happy_paths_and_forbidden_moves() -> None:
    assert advance("recording", S.PENDING) is S.PENDING
    for end in (S.STORED, S.FAILED, S.EMPTY):
        assert can_move("pending", end)
    assert can_move("stored", S.PURGED)
    assert can_move("failed", S.PENDING)  # an operator retry
    assert can_move("stored", S.STORED)  # idempotent
    for cur, target in [("recording", S.STORED), ("stored", S.PENDING), ("empty", S.STORED),
                        ("purged", S.STORED), ("pending", S.PURGED), ("recording", S.PURGED)]:
        assert not can_move(cur, target), (cur, target)
        with pytest.raises(InvalidTransition):
            advance(cur, target)


def test_key_naming_uses_the_utc_date_and_the_format_extension() -> None:
    started = datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=8)))  # = 2026-02-28 17:30 UTC
    cid = "5f0c6a52-1b7e-4a53-9a4c-2d4bd8c0b6f1"
    assert recording_key(cid, started, "opus") == f"recordings/2026/02/28/{cid}.ogg"
    assert recording_key(cid, started, "mp3").endswith(f"/{cid}.mp3")
    assert recording_key(cid, started, "wav").endswith(".wav")
    with pytest.raises(ValueError, match="call id"):
        recording_key("../etc/passwd", started, "opus")
    with pytest.raises(ValueError, match="aware"):
        recording_key(cid, datetime(2026, 1, 1), "opus")  # noqa: DTZ001 - the point of the test


def test_retention_is_the_longest_and_never_below_the_floor() -> None:
    assert retention_days(default_days=730, floor_days=730, client_days=None) == 730
    assert retention_days(default_days=730, floor_days=730, client_days=1095) == 1095
    assert retention_days(default_days=730, floor_days=730, client_days=30) == 730  # client cannot shorten
    assert retention_days(default_days=800, floor_days=900, client_days=None) == 900
    end = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert retain_until(end, 730) == datetime(2028, 1, 31, 23, 0, tzinfo=UTC)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, cap=10) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


@pytest.mark.parametrize(("header", "total", "expected"), [
    (None, 100, None),
    ("bytes=0-9", 100, (0, 9)),
    ("bytes=10-", 100, (10, 99)),
    ("bytes=-10", 100, (90, 99)),
    ("bytes=-500", 100, (0, 99)),
    ("bytes=90-1000", 100, (90, 99)),
    ("bytes=0-0", 1, (0, 0)),
    ("bytes=5-2", 100, None),  # invalid: ignored, whole body
    ("items=0-1", 100, None),
    ("bytes=0-1,5-6", 100, None),  # multi-range: whole body
    ("bytes=abc", 100, None),
    ("bytes=-", 100, None),
])
def test_range_parsing(header: str | None, total: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, total) == expected


@pytest.mark.parametrize(("header", "total"), [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100),
                                               ("bytes=0-", 0)])
def test_unsatisfiable_range(header: str, total: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as err:
        parse_range(header, total)
    assert err.value.status == 416 and err.value.details["total_size"] == total


def _items() -> list[tuple[str, str | None]]:
    items: list[tuple[str, str | None]] = []
    items += [(f"a-{i:03d}", "alice") for i in range(40)]
    items += [(f"b-{i:03d}", "bob") for i in range(7)] + [(f"c-{i:03d}", "carol") for i in range(2)]
    return items


def test_sample_is_stratified_and_reproducible() -> None:
    items = _items()
    first = stratified_sample(items, seed="week-12", per_agent=3)
    assert first == stratified_sample(list(reversed(items)), seed="week-12", per_agent=3)  # order-free
    by_agent = {p: [i for i in first if i.startswith(p)] for p in ("a-", "b-", "c-")}
    assert [len(v) for v in by_agent.values()] == [3, 3, 2]  # carol has only 2
    assert len(set(first)) == len(first)
    assert stratified_sample(items, seed="week-13", per_agent=3) != first


def test_sample_of_one_agent_does_not_move_when_another_agent_gets_data() -> None:
    items = _items()
    before = [i for i in stratified_sample(items, seed="s", per_agent=2) if i.startswith("a-")]
    more: list[tuple[str, str | None]] = items + [(f"b-{i:03d}", "bob") for i in range(7, 30)]
    after = [i for i in stratified_sample(more, seed="s", per_agent=2) if i.startswith("a-")]
    assert before == after


def test_sample_by_percent_rounds_up_per_stratum() -> None:
    picked = stratified_sample(_items(), seed="x", percent=10)
    assert sum(i.startswith("a-") for i in picked) == 4
    assert sum(i.startswith("b-") for i in picked) == 1
    assert sum(i.startswith("c-") for i in picked) == 1
    with pytest.raises(ValueError, match="exactly one"):
        stratified_sample(_items(), seed="x", percent=10, per_agent=1)
