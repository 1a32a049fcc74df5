from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from compliance.policy import Policy, WeeklyWindows, interval
from compliance.profiles import CN, US
from compliance.windows import AgreedWindow, local_edge_to_utc, window_open

from .conftest import local, utc, window_policy

NY = "America/New_York"
SH = "Asia/Shanghai"


# --- DST: America/New_York, 2026-03-08 spring forward (02:00 EST -> 03:00 EDT at 07:00 UTC)
def test_spring_forward_start_in_gap_opens_at_first_instant_after_gap() -> None:
    policy = window_policy("02:30", "21:00")
    assert local_edge_to_utc(NY, date(2026, 3, 8).toordinal(), 150, True) == utc(2026, 3, 8, 7, 0)
    before = window_open(utc(2026, 3, 8, 6, 59), [NY], policy)
    assert not before.open
    assert before.next_allowed_at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert window_open(utc(2026, 3, 8, 7, 0), [NY], policy).open
    # the day after, 02:30 exists again (EDT)
    assert window_open(utc(2026, 3, 9, 6, 29), [NY], policy).next_allowed_at == utc(2026, 3, 9, 6, 30)


def test_spring_forward_end_in_gap_closes_when_gap_begins() -> None:
    policy = window_policy("00:00", "02:30")
    assert window_open(local(NY, 2026, 3, 8, 1, 59), [NY], policy).open
    at_gap = window_open(utc(2026, 3, 8, 7, 0), [NY], policy)  # 03:00 EDT
    assert not at_gap.open
    assert at_gap.next_allowed_at == local(NY, 2026, 3, 9, 0, 0)


def test_normal_window_on_spring_forward_day_uses_edt() -> None:
    res = window_open(utc(2026, 3, 8, 11, 0), [NY], US)  # 07:00 EDT
    assert not res.open
    assert res.next_allowed_at == utc(2026, 3, 8, 12, 0)  # 08:00 EDT


# --- DST: America/New_York, 2026-11-01 fall back (01:00-02:00 repeats; 05:00-07:00 UTC)
def test_fall_back_start_in_repeated_hour_uses_later_occurrence() -> None:
    policy = window_policy("01:30", "21:00")
    first = local(NY, 2026, 11, 1, 1, 30, fold=0)
    second = local(NY, 2026, 11, 1, 1, 30, fold=1)
    assert (first, second) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30))
    res = window_open(first, [NY], policy)
    assert not res.open
    assert res.next_allowed_at == second
    assert window_open(second, [NY], policy).open


def test_fall_back_end_in_repeated_hour_uses_earlier_occurrence() -> None:
    policy = window_policy("00:00", "01:30")
    assert window_open(utc(2026, 11, 1, 5, 29), [NY], policy).open
    assert not window_open(utc(2026, 11, 1, 5, 30), [NY], policy).open
    later = window_open(utc(2026, 11, 1, 6, 10), [NY], policy)  # 01:10 EST: span closed
    assert not later.open
    assert later.next_allowed_at == local(NY, 2026, 11, 2, 0, 0)


# --- midnight
def test_window_across_midnight_is_continuous() -> None:
    policy = Policy(
        id="night",
        name="night",
        windows=WeeklyWindows.every_day(interval("00:00", "02:00"), interval("20:00", "24:00")),
    )
    assert window_open(local(SH, 2026, 6, 10, 23, 59), [SH], policy).open
    assert window_open(local(SH, 2026, 6, 11, 0, 0), [SH], policy).open
    closed = window_open(local(SH, 2026, 6, 11, 2, 0), [SH], policy)
    assert not closed.open
    assert closed.next_allowed_at == local(SH, 2026, 6, 11, 20, 0)


def test_after_21_the_next_window_is_tomorrow_0800() -> None:
    res = window_open(local(SH, 2026, 6, 10, 21, 0), [SH], CN)
    assert not res.open
    assert res.next_allowed_at == utc(2026, 6, 11, 0, 0)
    assert res.zones[0].local_time == "2026-06-10T21:00+08:00"
    assert res.zones[0].allowed_today == ["08:00-21:00"]
    assert window_open(local(SH, 2026, 6, 10, 20, 59), [SH], CN).open


def test_an_empty_weekday_is_skipped() -> None:
    policy = Policy(id="nosun", name="nosun", windows=WeeklyWindows(sun=()))
    res = window_open(local(SH, 2026, 6, 13, 22, 0), [SH], policy)  # Saturday night
    assert res.next_allowed_at == local(SH, 2026, 6, 15, 8, 0)  # Monday 08:00


def test_no_window_at_all_gives_no_next() -> None:
    policy = Policy(id="never", name="never", windows=WeeklyWindows.every_day())
    res = window_open(utc(2026, 6, 10, 12), [SH], policy)
    assert not res.open and res.next_allowed_at is None


# --- multi-zone: +1 208 (Boise, Los Angeles) with a New York address: 11:00-21:00 Eastern exactly
@pytest.mark.parametrize("day", [date(2026, 1, 14), date(2026, 7, 14)])
def test_boise_la_and_new_york_allow_exactly_11_to_21_eastern(day: date) -> None:
    zones = [NY, "America/Boise", "America/Los_Angeles"]
    start = local(NY, day.year, day.month, day.day, 0, 0)
    open_minutes = []
    for minute in range(0, 24 * 60, 5):
        if window_open(start + timedelta(minutes=minute), zones, US).open:
            open_minutes.append(minute)
    assert open_minutes[0] == 11 * 60
    assert open_minutes[-1] == 21 * 60 - 5
    assert len(open_minutes) == (21 - 11) * 12
    early = window_open(local(NY, day.year, day.month, day.day, 10, 59), zones, US)
    assert early.next_allowed_at == local(NY, day.year, day.month, day.day, 11, 0)
    assert [z.inside for z in early.zones] == [True, True, False]  # 08:59 Boise, 07:59 LA


# --- holidays
def test_holiday_has_no_window_and_next_is_after_the_holidays() -> None:
    golden_week = frozenset(date(2026, 10, d) for d in range(1, 8))
    policy = CN.model_copy(update={"holidays": golden_week})
    res = window_open(local(SH, 2026, 10, 1, 10, 0), [SH], policy)
    assert not res.open
    assert res.zones[0].holiday
    assert res.next_allowed_at == local(SH, 2026, 10, 8, 8, 0)


def test_holiday_is_per_local_date() -> None:
    policy = US.model_copy(update={"holidays": frozenset({date(2026, 7, 4)})})
    # 2026-07-05 01:30 UTC is still July 4th 21:30 in New York but July 5th 09:30 in Shanghai
    assert window_open(local(SH, 2026, 7, 5, 9, 30), [SH], policy).open
    assert window_open(local(NY, 2026, 7, 4, 12, 0), [NY], policy).zones[0].holiday


# --- agreed windows
def _agreed(start: str, end: str, **kw: object) -> AgreedWindow:
    fields: dict[str, object] = {
        "scope": "number",
        "scope_value": "+8613800138000",
        "intervals": (interval(start, end),),
        "recorded_by": "agent-7",
    }
    fields.update(kw)
    return AgreedWindow.model_validate(fields)


def test_agreed_window_widens_the_window() -> None:
    now = local(SH, 2026, 6, 10, 21, 30)
    agreed = _agreed("21:00", "22:00")
    res = window_open(now, [SH], CN, [agreed])
    assert res.open and res.by_agreement
    assert res.zones[0].agreed_today == ["21:00-22:00"]
    assert not window_open(local(SH, 2026, 6, 10, 22, 0), [SH], CN, [agreed]).open


def test_expired_agreed_window_is_ignored_and_stops_at_expiry() -> None:
    agreed = _agreed("21:00", "22:00", expires_at=local(SH, 2026, 6, 10, 21, 15))
    assert window_open(local(SH, 2026, 6, 10, 21, 10), [SH], CN, [agreed]).open
    assert not window_open(local(SH, 2026, 6, 10, 21, 20), [SH], CN, [agreed]).open
    res = window_open(local(SH, 2026, 6, 10, 20, 0), [SH], CN, [agreed])
    assert res.open


def test_agreed_window_days_are_respected() -> None:
    agreed = _agreed("06:00", "08:00", days=("sat",))
    assert window_open(local(SH, 2026, 6, 13, 7, 0), [SH], CN, [agreed]).open  # Saturday
    assert not window_open(local(SH, 2026, 6, 14, 7, 0), [SH], CN, [agreed]).open  # Sunday


def test_agreed_window_without_zone_must_hold_in_every_zone_but_with_zone_stands_alone() -> None:
    zones = [NY, "America/Los_Angeles"]
    now = local(NY, 2026, 6, 10, 6, 30)  # 03:30 in Los Angeles
    plain = _agreed("06:00", "07:00", scope_value="x")
    assert not window_open(now, zones, US, [plain]).open  # 03:30 in Los Angeles: neither agreed nor policy
    zoned = _agreed("06:00", "07:00", scope_value="x", zone=NY)
    assert window_open(now, zones, US, [zoned]).open
    # a zone-less agreement may combine with the policy window of another zone
    assert window_open(local(NY, 2026, 6, 10, 9, 30), zones, US, [_agreed("06:00", "07:00")]).open


def test_agreed_windows_do_not_lift_holidays_or_apply_when_policy_forbids() -> None:
    agreed = _agreed("21:00", "22:00")
    holiday = CN.model_copy(update={"holidays": frozenset({date(2026, 6, 10)})})
    assert not window_open(local(SH, 2026, 6, 10, 21, 30), [SH], holiday, [agreed]).open
    strict = CN.model_copy(update={"allow_agreed_windows": False})
    assert not window_open(local(SH, 2026, 6, 10, 21, 30), [SH], strict, [agreed]).open


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError):
        window_open(datetime(2026, 6, 10, 12), [SH], CN)  # noqa: DTZ001
