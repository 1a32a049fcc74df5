from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from compliance.decision import DialContext
from compliance.gate import evaluate
from compliance.ledger import LedgerCounts
from compliance.policy import HARD_STOPS, Policy, WeeklyWindows, interval, merge_strictest
from compliance.profiles import CN, DEMO, US, get_profile

NOON_SHANGHAI = datetime(2026, 6, 10, 4, tzinfo=UTC)  # a Wednesday, 12:00 in Asia/Shanghai


def test_default_window_is_0800_2100_every_day() -> None:
    policy = Policy(id="p", name="p")
    for weekday in range(7):
        assert policy.windows.minutes(weekday) == ((8 * 60, 21 * 60),)


def test_interval_parsing_and_24_00() -> None:
    iv = interval("00:00", "24:00")
    assert (iv.start, iv.end) == (0, 1440)
    assert str(iv) == "00:00-24:00"
    with pytest.raises(ValidationError):
        interval("21:00", "08:00")
    with pytest.raises(ValidationError):
        interval("08:60", "09:00")
    with pytest.raises(ValidationError):
        interval("8", "09:00")
    with pytest.raises(ValidationError):
        interval("00:00", "24:01")


def test_policy_round_trips_through_json() -> None:
    policy = Policy(
        id="bank",
        name="Bank",
        windows=WeeklyWindows(sun=()),
        holidays=frozenset({date(2026, 10, 1)}),
        min_gap_unanswered_same_number=timedelta(minutes=5),
        do_not_call_prefixes=frozenset({"+1900"}),
    )
    again = Policy.model_validate_json(policy.model_dump_json())
    assert again == policy
    assert again.windows.minutes(6) == ()
    assert '"08:00"' in policy.model_dump_json()


def test_several_intervals_a_day_are_normalised() -> None:
    windows = WeeklyWindows.every_day(
        interval("12:00", "14:00"), interval("08:00", "10:00"), interval("09:00", "11:00")
    )
    assert windows.minutes(0) == ((480, 660), (720, 840))


def test_profiles() -> None:
    assert CN.max_unanswered_per_number_per_day == 6
    assert CN.max_connected_per_debtor_per_day == 3
    assert CN.third_party_min_failed_own_attempts == 3
    assert CN.windows.minutes(3) == ((480, 1260),)
    assert US.max_attempts_per_debtor_rolling_7d == 7
    assert US.quiet_days_after_conversation == 7
    assert US.min_gap_unanswered_same_number == timedelta(minutes=5)
    assert US.unknown_timezone == "block"
    assert DEMO.windows.minutes(0) == ((0, 1440),)
    assert get_profile("us") is US
    with pytest.raises(KeyError):
        get_profile("XX")
    assert {
        "dispute",
        "denies_card",
        "suspected_fraud",
        "deceased",
        "cease_request",
        "attorney",
        "bankruptcy",
    } == HARD_STOPS


def test_merge_strictest_intersects_windows_and_takes_strictest_values() -> None:
    a = Policy(
        id="client",
        name="Client",
        windows=WeeklyWindows.every_day(interval("09:00", "20:00")),
        holidays=frozenset({date(2026, 1, 1)}),
        max_unanswered_per_number_per_day=4,
        quiet_days_after_conversation=3,
        holds={"hardship": "allow", "illness": "block", "pregnancy": "allow"},
        do_not_call_numbers=frozenset({"+8613800000000"}),
        allow_supervisor_override=True,
        unknown_timezone="country_zones",
        third_party_min_failed_own_attempts=5,
    )
    merged = merge_strictest([a, US])
    assert merged.id == "client+US"
    assert merged.windows.minutes(0) == ((540, 1200),)
    assert merged.holidays == {date(2026, 1, 1)}
    assert merged.max_unanswered_per_number_per_day == 4
    assert merged.max_attempts_per_debtor_rolling_7d == 7
    assert merged.quiet_days_after_conversation == 7
    assert merged.min_gap_unanswered_same_number == timedelta(minutes=5)
    assert merged.holds == {"hardship": "block", "illness": "block", "pregnancy": "block"}
    assert merged.do_not_call_numbers == {"+8613800000000"}
    assert merged.allow_supervisor_override is False
    assert merged.unknown_timezone == "block"
    assert merged.third_party_min_failed_own_attempts == 5


def test_merge_of_disjoint_windows_leaves_no_window() -> None:
    a = Policy(id="a", name="a", windows=WeeklyWindows.every_day(interval("08:00", "12:00")))
    b = Policy(id="b", name="b", windows=WeeklyWindows.every_day(interval("13:00", "21:00")))
    assert merge_strictest([a, b]).windows.minutes(2) == ()
    with pytest.raises(ValueError):
        merge_strictest([])


def test_do_not_call_entries_must_be_e164() -> None:
    with pytest.raises(ValidationError):
        Policy(id="p", name="p", do_not_call_numbers=frozenset({"13800138000"}))
    with pytest.raises(ValidationError):
        Policy(id="p", name="p", do_not_call_prefixes=frozenset({"+0"}))
    assert Policy(id="p", name="p", do_not_call_prefixes=frozenset({"+1900"})).do_not_call_prefixes == {
        "+1900"
    }


@pytest.mark.parametrize("order", [(True, False), (False, True), (False, False)])
def test_a_ban_on_third_party_calls_survives_the_merge(order: tuple[bool, bool]) -> None:
    policies = [Policy(id=f"p{i}", name="p", third_party_allowed=allowed) for i, allowed in enumerate(order)]
    merged = merge_strictest(policies)
    assert merged.third_party_allowed is False
    ctx = DialContext(number="+8613800138000", number_kind="third_party", case_id="c", address_zone="Asia/Shanghai")
    decision = evaluate(ctx, merged, LedgerCounts(consecutive_failed_own_attempts=9), NOON_SHANGHAI)
    assert not decision.allowed
    assert "third-party:disabled" in decision.rule_ids


def test_do_not_call_prefixes_of_every_policy_survive_the_merge() -> None:
    always = WeeklyWindows.every_day(interval("00:00", "24:00"))
    first = Policy(id="bank", name="bank", windows=always, do_not_call_prefixes=frozenset({"+1208"}))
    second = Policy(id="cn", name="cn", windows=always, do_not_call_prefixes=frozenset({"+86138", "+86139"}))
    third = Policy(id="uk", name="uk", windows=always, do_not_call_prefixes=frozenset({"+44"}))
    merged = merge_strictest([first, second, third])
    assert merged.do_not_call_prefixes == {"+1208", "+86138", "+86139", "+44"}
    for number in ("+12085551234", "+8613800138000", "+8613900139000", "+442071234567"):
        ctx = DialContext(number=number, case_id="c", address_zone="Asia/Shanghai")
        decision = evaluate(ctx, merged, LedgerCounts(), NOON_SHANGHAI)
        assert not decision.allowed, number
        assert decision.rule_ids == ["do-not-call:prefix"], number
    clean = DialContext(number="+8613700137000", case_id="c", address_zone="Asia/Shanghai")
    assert evaluate(clean, merged, LedgerCounts(), NOON_SHANGHAI).allowed
