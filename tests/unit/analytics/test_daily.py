"""Daily rollup helpers: local days in whole hours across DST, zone validation, exact percentiles from packed runs."""

from __future__ import annotations

import asyncio
import math
import random
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from analytics import daily
from analytics.daily import first_hour, local_day, talk_grain
from analytics.grouping import merge, ordering
from analytics.models import epoch_hour, hour_start, zones
from analytics.picks import nearest_rank_picks
from analytics.rollup import register_zones
from core.clock import whole_hour_zone
from db.engine import Database

BERLIN = ZoneInfo("Europe/Berlin")


def _day(d: datetime, tz: ZoneInfo) -> int:
    return (d.astimezone(tz).date() - datetime(1970, 1, 1).date()).days


def test_whole_hour_zones() -> None:
    assert whole_hour_zone("UTC") and whole_hour_zone("Europe/Berlin") and whole_hour_zone("America/New_York")
    assert whole_hour_zone("Asia/Shanghai")
    assert not whole_hour_zone("Asia/Kolkata")  # +05:30
    assert not whole_hour_zone("Australia/Lord_Howe")  # +10:30 in winter, +11 in summer
    assert not whole_hour_zone("Not/AZone")
    assert not whole_hour_zone("../etc/passwd")


def test_local_days_are_whole_hours_across_dst() -> None:
    spring = _day(datetime(2025, 3, 30, 12, tzinfo=UTC), BERLIN)  # 23 hours
    autumn = _day(datetime(2025, 10, 26, 12, tzinfo=UTC), BERLIN)  # 25 hours
    assert first_hour(BERLIN, spring + 1) - first_hour(BERLIN, spring) == 23
    assert first_hour(BERLIN, autumn + 1) - first_hour(BERLIN, autumn) == 25
    for day in (spring - 1, spring, spring + 1, autumn, autumn + 1):
        start = hour_start(first_hour(BERLIN, day))
        assert start.astimezone(BERLIN).hour == 0 and _day(start, BERLIN) == day
        assert local_day(BERLIN, first_hour(BERLIN, day) - 1) == day - 1
    ny = ZoneInfo("America/New_York")
    for h in range(epoch_hour(datetime(2025, 3, 1, tzinfo=UTC)), epoch_hour(datetime(2025, 3, 20, tzinfo=UTC))):
        assert local_day(ny, h) == _day(hour_start(h), ny)


def _nearest_rank(values: list[int], num: int, den: int) -> float:
    return float(sorted(values)[math.ceil(len(values) * num / den) - 1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.lists(st.integers(0, 4000), min_size=1, max_size=12)), max_size=20),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4000), st.integers(1, 4)), max_size=20))
def test_percentiles_from_packed_runs_equal_sorting_everything(
        runs: list[tuple[int, list[int]]], hist: list[tuple[int, int, int]]) -> None:
    groups = 6
    blobs = [(g, np.asarray(sorted(v), dtype="<u4").tobytes()) for g, v in runs]
    per, totals = nearest_rank_picks(blobs, hist, groups)
    values: dict[int, list[int]] = defaultdict(list)
    for g, v in runs:
        values[g] += v
    for g, sec, n in hist:
        values[g] += [sec] * n
    everything = [v for vs in values.values() for v in vs]
    for g in range(groups):
        want = ({"talk_median": _nearest_rank(values[g], 1, 2), "talk_p90": _nearest_rank(values[g], 9, 10)}
                if values[g] else {"talk_median": None, "talk_p90": None})
        assert per[g] == want
    assert totals == ({"talk_median": _nearest_rank(everything, 1, 2), "talk_p90": _nearest_rank(everything, 9, 10)}
                      if everything else {"talk_median": None, "talk_p90": None})


def test_merge_sums_shared_labels_adds_extra_keys_and_orders_none_last() -> None:
    labels = [["b", "a", None, "a"], ["2025-01", "2025-02", "2025-01", "2025-02"]]
    values = [[1, 2, 3, 4], [0.5, 1.0, 1.5, 2.0]]
    keys, sums, had_rows = merge(labels, values, [("a", "2025-01"), ("b", "2025-01")])
    assert list(zip(*keys, strict=True)) == [("a", "2025-01"), ("a", "2025-02"), ("b", "2025-01"), (None, "2025-01")]
    assert sums == [[0, 6, 1, 3], [0, 3.0, 0.5, 1.5]]
    assert had_rows == [False, True, True, True]
    # rows known to be distinct are kept as they are, only ordered
    keys, sums, had_rows = merge([["b", None, "a"]], [[1, 2, 3]], [("c",)], unique=True)
    assert keys == [["a", "b", "c", None]] and sums == [[3, 1, 0, 2]] and had_rows == [True, True, False, True]
    # no dimensions: one group, or none
    assert merge([], [[5], [1.5]]) == ([], [[5], [1.5]], [True])
    assert merge([], [[], []], [()]) == ([], [[0], [0]], [False])


def test_ordering_matches_sorting_tuples() -> None:
    rng = random.Random(5)
    keys = list({(rng.choice(["x", "y", None, "z"]), rng.randint(0, 30)) for _ in range(200)})
    want = sorted(keys, key=lambda k: tuple((v is None, 0 if v is None else v) for v in k))
    assert [keys[i] for i in ordering(list(map(list, zip(*keys, strict=True))), len(keys))] == want


async def test_instances_registering_the_same_zones_together_agree(adb: Database) -> None:
    async with adb.begin() as first:
        assert await daily.register(first, ["UTC", "Europe/Berlin"]) == ["UTC", "Europe/Berlin"]
        # another instance starts meanwhile: it waits for the first one's commit, then has nothing to add
        second = asyncio.create_task(register_zones(adb, ["UTC"]))
        await asyncio.sleep(0.3)
    await second
    async with adb.read() as s:
        assert sorted((await s.execute(select(zones.c.zone))).scalars()) == ["Europe/Berlin", "UTC"]
    with pytest.raises(ValueError, match="Asia/Kolkata"):
        await register_zones(adb, ["Asia/Kolkata"])


def test_talk_grain_is_the_smallest_holding_every_dimension() -> None:
    assert talk_grain([]) == 1 and talk_grain(["client_id"]) == 1 and talk_grain(["number_kind"]) == 1
    assert talk_grain(["agent_id", "client_id"]) == 0 and talk_grain(["batch_id"]) == 0
    assert talk_grain(["batch_id", "number_kind"]) is None  # read from the hourly histogram
