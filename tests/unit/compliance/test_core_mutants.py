"""Compliance corners the mutation run found untested (the host's own time zone never leaks into a result)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest

from compliance.decision import Block, Decision, DialContext, fmt_instant
from compliance.ledger import LedgerCounts, day_start, ledger_ranges, next_day_start
from compliance.policy import (
    DAY_NAMES,
    Policy,
    WeeklyWindows,
    intersect,
    interval,
    merge_strictest,
    normalize,
    parse_hhmm,
)
from compliance.rules import calling_window, do_not_call, frequency, holds, third_party, unknown_timezone
from compliance.timezones import ZoneCandidate, ZoneResolution
from compliance.windows import (
    AgreedWindow,
    WindowResult,
    ZoneWindow,
    is_open,
    local_edge_to_utc,
    local_midnight_utc,
    window_open,
)

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


# -- merging policies -------------------------------------------------------------------------------------------
D1, D2 = date(2026, 10, 1), date(2026, 10, 2)
BANK = Policy(
    id="bank", name="Bank", windows=WeeklyWindows.every_day(interval("08:00", "20:00")), holidays=frozenset({D1}),
    allow_agreed_windows=True, max_unanswered_per_number_per_day=3, max_connected_per_debtor_per_day=2,
    quiet_days_after_conversation=2, min_gap_unanswered_same_number=timedelta(hours=1),
    holds={"hardship": "allow", "illness": "supervisor_override", "pregnancy": "allow"},
    third_party_allowed=True, third_party_min_failed_own_attempts=2, third_party_max_calls_per_number=4,
    do_not_call_numbers=frozenset({"+8613800000001"}), do_not_call_prefixes=frozenset({"+86139"}),
    unknown_timezone="country_zones", allow_supervisor_override=True)
LAW = Policy(
    id="cn", name="CN", windows=WeeklyWindows(**{**{d: (interval("09:00", "21:00"),) for d in DAY_NAMES},
                                                "sun": (interval("10:00", "12:00"),)}),
    holidays=frozenset({D2}), allow_agreed_windows=False, max_connected_per_debtor_per_day=1,
    max_attempts_per_debtor_rolling_7d=7, min_gap_unanswered_same_number=timedelta(hours=2),
    holds={"hardship": "supervisor_override", "illness": "allow", "pregnancy": "allow"},
    third_party_allowed=False, third_party_min_failed_own_attempts=4, third_party_max_calls_per_number=2,
    do_not_call_numbers=frozenset({"+8613800000002"}), do_not_call_prefixes=frozenset({"+86150"}),
    unknown_timezone="country_zones", allow_supervisor_override=True)


def test_merging_takes_the_strictest_of_every_field_from_whichever_policy_has_it():
    for merged in (merge_strictest([BANK, LAW]), merge_strictest([LAW, BANK])):
        assert merged.windows.minutes(0) == ((9 * 60, 20 * 60),) and merged.windows.minutes(6) == ((600, 720),)
        assert merged.holidays == {D1, D2} and merged.allow_agreed_windows is False
        assert merged.max_unanswered_per_number_per_day == 3 and merged.max_connected_per_debtor_per_day == 1
        assert merged.max_attempts_per_debtor_rolling_7d == 7 and merged.quiet_days_after_conversation == 2
        assert merged.min_gap_unanswered_same_number == timedelta(hours=2)
        assert merged.holds == {"hardship": "supervisor_override", "illness": "supervisor_override",
                                "pregnancy": "allow"}
        assert merged.third_party_allowed is False and merged.third_party_min_failed_own_attempts == 4
        assert merged.third_party_max_calls_per_number == 2
        assert merged.do_not_call_numbers == {"+8613800000001", "+8613800000002"}
        assert merged.do_not_call_prefixes == {"+86139", "+86150"}
        assert merged.unknown_timezone == "country_zones" and merged.allow_supervisor_override is True
    merged = merge_strictest([BANK, LAW])
    assert (merged.id, merged.name) == ("bank+cn", "Bank + CN")


def test_one_strict_input_is_enough_to_block_and_to_forbid_overrides():
    strict = Policy(id="s", name="S", holds={"hardship": "block", "illness": "allow", "pregnancy": "allow"})
    merged = merge_strictest([BANK, LAW, strict])
    assert merged.holds["hardship"] == "block" and merged.holds["illness"] == "supervisor_override"
    assert merged.unknown_timezone == "block" and merged.allow_supervisor_override is False
    assert merge_strictest([strict, BANK]).holds["hardship"] == "block"


def test_merging_one_policy_is_that_policy_and_merging_none_is_an_error():
    assert merge_strictest([LAW]) is LAW
    with pytest.raises(ValueError, match="^merge_strictest needs at least one policy$"):
        merge_strictest([])


# -- windows ------------------------------------------------------------------------------------------------------
@pytest.fixture
def fresh_edges() -> Iterator[None]:
    """Local edges are memoised process-wide; compute the DST edges of these tests afresh."""
    local_edge_to_utc.cache_clear()
    yield
    local_edge_to_utc.cache_clear()


@pytest.mark.parametrize(("zone", "day", "minute", "expected"), [
    ("America/New_York", date(2026, 3, 8), 150, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),  # 02:30 skipped
    ("America/New_York", date(2026, 3, 8), 120, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ("Europe/Berlin", date(2026, 3, 29), 150, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", date(2026, 10, 4), 135, datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 30-min gap
])
def test_a_time_inside_a_spring_forward_gap_is_the_first_instant_after_it(fresh_edges: None, zone, day, minute,
                                                                          expected):
    for is_start in (True, False):
        assert local_edge_to_utc(zone, day.toordinal(), minute, is_start) == expected


def test_an_agreement_stops_applying_at_its_expiry():
    agreed = AgreedWindow(scope="number", scope_value="+8613800138000", intervals=(interval("21:00", "22:00"),),
                          expires_at=NOW, recorded_by="a")
    assert agreed.applies_to(number="+8613800138000", case_id="c", now=NOW - timedelta(seconds=1))
    assert not agreed.applies_to(number="+8613800138000", case_id="c", now=NOW)
    assert not agreed.applies_to(number="+8613800138000", case_id="c", now=NOW + timedelta(days=1))
    assert not agreed.applies_to(number="+8613800138001", case_id="c", now=NOW - timedelta(seconds=1))
    by_case = agreed.model_copy(update={"scope": "case", "scope_value": "c"})
    assert by_case.applies_to(number="+1", case_id="c", now=NOW - timedelta(seconds=1))


def test_is_open_agrees_with_the_window():
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("09:00", "18:00")))
    noon_shanghai = datetime(2026, 3, 6, 4, 0, tzinfo=UTC)
    assert is_open(noon_shanghai, ["Asia/Shanghai"], policy)
    assert is_open(noon_shanghai, ["Asia/Shanghai", "Asia/Shanghai"], policy)
    assert not is_open(noon_shanghai, ["Asia/Shanghai", "America/New_York"], policy)
    assert not is_open(noon_shanghai, [], policy)
    late = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    agreed = AgreedWindow(scope="number", scope_value="+1", intervals=(interval("19:30", "20:30"),),
                          expires_at=late + timedelta(minutes=10), recorded_by="a")
    assert not is_open(late, ["Asia/Shanghai"], policy)
    assert is_open(late, ["Asia/Shanghai"], policy, [agreed])
    assert not is_open(late + timedelta(minutes=10), ["Asia/Shanghai"], policy, [agreed])


# -- rule messages ------------------------------------------------------------------------------------------------
def _frequency(policy: Policy, ledger: LedgerCounts, zones: tuple[str, ...] = ("Asia/Shanghai",)) -> list[Block]:
    ctx = DialContext(number="+8613800138000", case_id="case-1")
    return frequency(ctx, policy, ledger, NOW, zones)


@pytest.mark.parametrize(("gap", "words"), [(timedelta(seconds=45), "45 second(s)"),
                                           (timedelta(seconds=3660), "61 minute(s)"),
                                           (timedelta(seconds=150), "2 minute(s)")])
def test_the_minimum_gap_is_stated_in_minutes_or_seconds(gap, words):
    policy = Policy(id="p", name="p", min_gap_unanswered_same_number=gap)
    (block,) = _frequency(policy, LedgerCounts(last_unanswered_to_number_at=NOW - timedelta(seconds=1)))
    assert f"wait at least {words} between" in block.message and block.clears_at == NOW - timedelta(seconds=1) + gap


def test_quiet_days_without_a_zone_count_utc_days():
    policy = Policy(id="p", name="p", quiet_days_after_conversation=2)
    (block,) = _frequency(policy, LedgerCounts(last_conversation_at=NOW - timedelta(hours=1)), zones=())
    assert block.rule_id == "cap:quiet-after-conversation" and block.clears_at == datetime(2026, 3, 8, tzinfo=UTC)


# -- what each rule's block allows: who may override it, when it clears ------------------------------------------
CTX = DialContext(number="+8613800138000", case_id="case-1")


def _shape(blocks: list[Block]) -> list[tuple[str, str, bool, bool]]:
    return [(b.rule_id, b.code, b.overridable, b.time_based) for b in blocks]


def test_legal_stops_and_do_not_call_can_never_be_overridden():
    policy = Policy(id="p", name="p", holds={"hardship": "supervisor_override", "illness": "block",
                                             "pregnancy": "allow"},
                    do_not_call_numbers=frozenset({CTX.number}), do_not_call_prefixes=frozenset({"+86138", "+8613"}))
    ctx = CTX.model_copy(update={"holds": ("dispute", "hardship", "pregnancy", "illness", "dispute")})
    blocks = holds(ctx, policy)
    assert _shape(blocks) == [("hold:dispute", "case-on-hold", False, False),
                              ("hold:hardship", "case-on-hold", True, False),
                              ("hold:illness", "case-on-hold", False, False)]
    assert blocks[0].message == ("Case case-1 is on hold because the debt is disputed; this legal stop cannot be "
                                 "overridden until it is cleared with evidence.")
    assert blocks[1].message.endswith("policy p lets a supervisor override it.")
    assert blocks[2].message.endswith("policy p blocks calls.")
    for status, rule in (("do_not_call", "do-not-call:number-status"), ("invalid", "do-not-call:number-invalid")):
        blocks = do_not_call(CTX.model_copy(update={"number_status": status}), policy)
        assert _shape(blocks) == [(rule, "do-not-call", False, False),
                                  ("do-not-call:list", "do-not-call", False, False),
                                  ("do-not-call:prefix", "do-not-call", False, False)]
        assert "prefix +8613 of policy p" in blocks[2].message  # the shortest matching prefix is named


def test_third_party_blocks():
    policy = Policy(id="p", name="p", third_party_allowed=False, third_party_min_failed_own_attempts=3,
                    third_party_max_calls_per_number=1)
    ctx = CTX.model_copy(update={"number_kind": "third_party", "third_party_objected": True})
    blocks = third_party(ctx, policy, LedgerCounts(consecutive_failed_own_attempts=2, third_party_calls_to_number=1))
    assert _shape(blocks) == [("third-party:disabled", "third-party-restricted", False, False),
                              ("third-party:objected", "third-party-restricted", False, False),
                              ("third-party:debtor-not-unreachable", "third-party-restricted", True, False),
                              ("third-party:already-called", "third-party-restricted", True, False)]
    assert blocks[1].message.endswith("it must never be called again.")
    assert blocks[2].message.endswith("2 of 3 consecutive failed attempts on the debtor's own numbers so far.")
    assert third_party(CTX, policy, LedgerCounts()) == []  # the debtor's own number


def test_an_unknown_zone_blocks_overridably():
    unknown = ZoneResolution(zones=(), unknown=True)
    (block,) = unknown_timezone(CTX, unknown, Policy(id="p", name="p"))
    assert _shape([block]) == [("timezone:unknown", "unknown-timezone", True, False)]
    assert unknown_timezone(CTX, ZoneResolution(zones=(), unknown=False), Policy(id="p", name="p")) == []


def _zone(zone: str, *, holiday: bool = False, inside: bool = False, allowed: list[str] | None = None) -> ZoneWindow:
    return ZoneWindow(zone=zone, local_time="2026-03-06T12:00+08:00", local_weekday="fri", holiday=holiday,
                      allowed_today=["09:00-18:00"] if allowed is None else allowed, agreed_today=[], inside=inside)


def test_calling_window_blocks_name_every_zone_that_fails():
    res = ZoneResolution(zones=(ZoneCandidate(zone="Asia/Shanghai", source="case"),
                                ZoneCandidate(zone="Asia/Urumqi", source="phone_prefix")), unknown=False)
    later = NOW + timedelta(hours=3)
    window = WindowResult(open=False, next_allowed_at=later, zones=[
        _zone("Asia/Shanghai", holiday=True), _zone("Asia/Urumqi", allowed=[])])
    holiday, hours = calling_window(window, res)
    assert _shape([holiday, hours]) == [("holiday", "holiday", True, True),
                                        ("calling-hours", "outside-calling-hours", True, True)]
    assert holiday.clears_at == hours.clears_at == later
    assert holiday.message == "No calls on holidays: 2026-03-06 is a holiday in Asia/Shanghai (case)."
    assert hours.message == "It is 12:00 (fri) in Asia/Urumqi (phone_prefix); calls are allowed no hours."
    both_inside_apart = WindowResult(open=False, next_allowed_at=later, zones=[
        _zone("Asia/Shanghai", inside=True), _zone("Asia/Urumqi", inside=True, allowed=["10:00-12:00", "14:00-16:00"])])
    (block,) = calling_window(both_inside_apart, res)
    assert block.message == ("It is 12:00 (fri) in Asia/Shanghai (case); calls are allowed 09:00-18:00. "
                             "It is 12:00 (fri) in Asia/Urumqi (phone_prefix); "
                             "calls are allowed 10:00-12:00, 14:00-16:00. "
                             "the window does not hold in every candidate zone at once.")
    only_holidays = WindowResult(open=False, next_allowed_at=later, zones=[
        _zone("Asia/Shanghai", holiday=True), _zone("Asia/Urumqi", holiday=True)])
    (block,) = calling_window(only_holidays, res)
    assert block.message == ("No calls on holidays: 2026-03-06 is a holiday in Asia/Shanghai (case); "
                             "2026-03-06 is a holiday in Asia/Urumqi (phone_prefix).")
    assert calling_window(WindowResult(open=True, next_allowed_at=NOW), res) == []


@pytest.mark.parametrize("cap", [0, 1])
def test_per_day_caps_clear_tomorrow_unless_the_cap_is_zero(cap):
    policy = Policy(id="p", name="p", max_unanswered_per_number_per_day=cap, max_connected_per_debtor_per_day=cap)
    blocks = _frequency(policy, LedgerCounts(unanswered_to_number_today=1, connected_with_debtor_today=1))
    tomorrow = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert [(b.rule_id, b.code, b.overridable, b.clears_at, b.time_based) for b in blocks] == [
        ("cap:unanswered-per-number-per-day", "frequency-cap", True, tomorrow if cap else None, bool(cap)),
        ("cap:connected-per-debtor-per-day", "frequency-cap", True, tomorrow if cap else None, bool(cap))]


def test_the_rolling_cap_counts_an_attempt_made_now_and_clears_when_enough_have_aged_out():
    attempts = (NOW - timedelta(days=3), NOW)
    (block,) = _frequency(Policy(id="p", name="p", max_attempts_per_debtor_rolling_7d=1),
                          LedgerCounts(debtor_attempts_7d=attempts))
    assert block.clears_at == NOW + timedelta(days=7) and "2 attempts on the debtor" in block.message
    (block,) = _frequency(Policy(id="p", name="p", max_attempts_per_debtor_rolling_7d=2),
                          LedgerCounts(debtor_attempts_7d=attempts))
    assert block.clears_at == NOW + timedelta(days=4)
    (block,) = _frequency(Policy(id="p", name="p", max_attempts_per_debtor_rolling_7d=0), LedgerCounts())
    assert block.clears_at is None and not block.time_based


def test_quiet_days_end_exactly_at_local_midnight():
    policy = Policy(id="p", name="p", quiet_days_after_conversation=1)
    ends = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    ctx_ledger = LedgerCounts(last_conversation_at=NOW)
    assert [b.clears_at for b in frequency(CTX, policy, ctx_ledger, ends - timedelta(seconds=1),
                                           ("Asia/Shanghai",))] == [ends]
    assert frequency(CTX, policy, ctx_ledger, ends, ("Asia/Shanghai",)) == []


# -- times of day and interval lists -----------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "message"), [
    (True, "a time of day must be 'HH:MM'"), (8.5, "a time of day must be 'HH:MM'"),
    ("08:3", "time of day '08:3' is not 'HH:MM'"), ("ab:30", "time of day 'ab:30' is not 'HH:MM'"),
    ("0830", "time of day '0830' is not 'HH:MM'"), ("08:60", "time of day '08:60' has minutes >= 60"),
    ("24:01", "time of day '24:01' is outside 00:00-24:00"), (1441, "time of day 1441 is outside 00:00-24:00")])
def test_bad_times_of_day_are_refused_with_the_reason(value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        parse_hhmm(value)
    assert parse_hhmm("08:59") == 539 and parse_hhmm(" 24:00 ") == 1440 and parse_hhmm(0) == 0


def test_normalize_drops_empty_and_merges_touching_intervals():
    assert normalize([(1, 1), (2, 3)]) == ((2, 3),)
    assert normalize([(5, 3), (4, 4)]) == ()
    assert normalize([(1, 2), (2, 3), (7, 9), (8, 8), (4, 5)]) == ((1, 3), (4, 5), (7, 9))


def test_intersect_walks_both_lists_to_the_end():
    many = ((1, 2), (3, 4), (5, 6))
    assert intersect(many, ((0, 10),)) == many and intersect(((0, 10),), many) == many
    assert intersect(((1, 2),), ((2, 3),)) == ()  # touching is not overlapping


def test_a_missing_hold_entry_is_strict():
    assert Policy(id="p", name="p", holds={}).hold_mode("hardship") == "block"


# -- window edges -------------------------------------------------------------------------------------------------
class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_window_times_must_be_aware_and_come_back_in_utc(host_in_new_york: None):
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("09:00", "18:00")))
    for naive in (datetime(2026, 3, 6, 4), datetime(2026, 3, 6, 4, tzinfo=_NoOffset())):  # noqa: DTZ001
        with pytest.raises(ValueError, match="^datetimes must be timezone-aware$"):
            window_open(naive, ["Asia/Shanghai"], policy)
    noon = datetime(2026, 3, 6, 4, 0, tzinfo=timezone(timedelta(hours=8))) + timedelta(hours=8)
    result = window_open(noon, ["Asia/Shanghai"], policy)
    assert result.open and result.next_allowed_at == noon and result.next_allowed_at.utcoffset() == timedelta(0)
    assert window_open(noon, [], policy) == WindowResult(open=False, zones=[], next_allowed_at=None)


def test_a_window_holds_from_its_first_instant_to_just_before_its_end():
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("09:00", "18:00")))
    opens, closes = datetime(2026, 3, 6, 1, 0, tzinfo=UTC), datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    assert is_open(opens, ["Asia/Shanghai"], policy) and not is_open(opens - timedelta(microseconds=1),
                                                                     ["Asia/Shanghai"], policy)
    assert not is_open(closes, ["Asia/Shanghai"], policy)
    assert is_open(closes - timedelta(microseconds=1), ["Asia/Shanghai"], policy)


def test_by_agreement_only_when_open_thanks_to_an_agreement():
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("09:00", "18:00")))
    agreed = AgreedWindow(scope="number", scope_value="+1", intervals=(interval("19:00", "20:00"),), recorded_by="a")
    evening = datetime(2026, 3, 6, 11, 30, tzinfo=UTC)  # 19:30 in Shanghai
    assert window_open(evening, ["Asia/Shanghai"], policy, [agreed]).by_agreement is True
    noon = datetime(2026, 3, 6, 4, 0, tzinfo=UTC)
    assert window_open(noon, ["Asia/Shanghai"], policy, [agreed]).by_agreement is False
    night = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    closed = window_open(night, ["Asia/Shanghai"], policy, [agreed])
    assert not closed.open and closed.by_agreement is False
    assert window_open(noon, ["Asia/Shanghai"], policy).by_agreement is False


def test_an_agreement_for_other_days_does_not_hide_the_next_one():
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("09:00", "18:00")))
    monday = AgreedWindow(scope="number", scope_value="+1", days=("mon",), intervals=(interval("19:00", "20:00"),),
                          recorded_by="a")
    friday = AgreedWindow(scope="number", scope_value="+1", days=("fri",), intervals=(interval("20:00", "21:00"),),
                          recorded_by="a")
    friday_evening = datetime(2026, 3, 6, 12, 30, tzinfo=UTC)  # Friday 20:30 in Shanghai
    assert is_open(friday_evening, ["Asia/Shanghai"], policy, [monday, friday])


def test_on_a_fall_back_day_a_start_is_the_later_and_an_end_the_earlier_occurrence(fresh_edges: None):
    # New York, 1 November 2026: 01:00-02:00 EDT, then 01:00-02:00 EST again
    policy = Policy(id="p", name="p", windows=WeeklyWindows.every_day(interval("01:30", "03:00")))
    before = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    assert window_open(before, ["America/New_York"], policy).next_allowed_at == datetime(2026, 11, 1, 6, 30,
                                                                                        tzinfo=UTC)
    closed = Policy(id="p", name="p", windows=WeeklyWindows.every_day())
    agreed = AgreedWindow(scope="number", scope_value="+1", intervals=(interval("01:30", "03:00"),), recorded_by="a")
    assert not is_open(datetime(2026, 11, 1, 5, 35, tzinfo=UTC), ["America/New_York"], closed, [agreed])
    assert is_open(datetime(2026, 11, 1, 6, 35, tzinfo=UTC), ["America/New_York"], closed, [agreed])
    ends_in_fold = AgreedWindow(scope="number", scope_value="+1", intervals=(interval("00:30", "01:30"),),
                                recorded_by="a")
    assert not is_open(datetime(2026, 11, 1, 6, 0, tzinfo=UTC), ["America/New_York"], closed, [ends_in_fold])


def test_a_midnight_that_occurs_twice_starts_the_day_at_its_later_occurrence(fresh_edges: None):
    # Havana, 1 November 2026: at 01:00 CDT the clocks go back to 00:00 CST
    assert local_midnight_utc("America/Havana", date(2026, 11, 1)) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
