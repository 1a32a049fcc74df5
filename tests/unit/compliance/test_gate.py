from __future__ import annotations

import json
from datetime import date, timedelta
from typing import get_args

import pytest

from cases.models import HOLD_REASONS
from compliance.decision import DialContext, OverrideRequest
from compliance.gate import evaluate, ranges_for
from compliance.ledger import LedgerCounts, ledger_ranges
from compliance.policy import HoldReason, interval
from compliance.profiles import CN, DEMO, US
from compliance.windows import AgreedWindow

from .conftest import local, utc

SH = "Asia/Shanghai"
NY = "America/New_York"
NOON_SH = local(SH, 2026, 6, 10, 12, 0)
NOON_NY = local(NY, 2026, 6, 10, 12, 0)
NONE = LedgerCounts()


def ctx(**kw: object) -> DialContext:
    fields: dict[str, object] = {"number": "+8613800138000", "case_id": "case-1"}
    fields.update(kw)
    return DialContext.model_validate(fields)


def us_ctx(**kw: object) -> DialContext:
    return ctx(**{"number": "+12125551234", **kw})


def supervisor(reason: str = "debtor asked for a call back now") -> OverrideRequest:
    return OverrideRequest(role="supervisor", reason=reason, requested_by="sup-1")


def test_plain_allowed_decision_names_zone_and_source() -> None:
    d = evaluate(ctx(), CN, NONE, NOON_SH)
    assert d.allowed and d.code is None and d.rule_ids == []
    assert [(z.zone, z.source) for z in d.zones] == [(SH, "phone_prefix")]
    assert "12:00 in Asia/Shanghai (phone_prefix)" in d.message
    assert d.next_allowed_at is None


def test_outside_hours_message_and_next_allowed() -> None:
    d = evaluate(us_ctx(address_zone=NY), US, NONE, local(NY, 2026, 6, 10, 21, 30))
    assert not d.allowed
    assert d.code == "outside-calling-hours"
    assert d.rule_ids == ["calling-hours"]
    assert d.next_allowed_at == local(NY, 2026, 6, 11, 8, 0)
    assert d.message.startswith(
        "It is 21:30 (wed) in America/New_York (address, phone_prefix); calls are allowed 08:00-21:00."
    )
    assert "Next allowed at 2026-06-11 12:00 UTC (2026-06-11 08:00 in America/New_York)." in d.message


def test_decision_is_json_serialisable() -> None:
    d = evaluate(
        us_ctx(),
        US,
        LedgerCounts(debtor_attempts_7d=(NOON_NY - timedelta(hours=1),)),
        local(NY, 2026, 6, 10, 22, 0),
    )
    doc = json.loads(d.to_json())
    assert doc["code"] == "outside-calling-hours"
    assert doc["next_allowed_at"] == "2026-06-11T12:00:00Z"
    assert doc["zones"] == [{"zone": NY, "source": "phone_prefix"}]
    assert d.to_dict()["details"]["blocks"][0]["rule_id"] == "calling-hours"


def test_holiday_code() -> None:
    policy = CN.model_copy(update={"holidays": frozenset({date(2026, 6, 10)})})
    d = evaluate(ctx(), policy, NONE, NOON_SH)
    assert d.code == "holiday"
    assert d.rule_ids == ["holiday"]
    assert d.next_allowed_at == local(SH, 2026, 6, 11, 8, 0)
    assert "2026-06-10 is a holiday in Asia/Shanghai" in d.message


# --- caps
def test_unanswered_per_number_per_day_cap() -> None:
    assert evaluate(ctx(), CN, LedgerCounts(unanswered_to_number_today=5), NOON_SH).allowed
    d = evaluate(ctx(), CN, LedgerCounts(unanswered_to_number_today=6), NOON_SH)
    assert d.code == "frequency-cap"
    assert d.rule_ids == ["cap:unanswered-per-number-per-day"]
    assert d.next_allowed_at == local(SH, 2026, 6, 11, 8, 0)  # cleared at midnight, open at 08:00


def test_connected_per_debtor_per_day_cap() -> None:
    assert evaluate(ctx(), CN, LedgerCounts(connected_with_debtor_today=2), NOON_SH).allowed
    d = evaluate(ctx(), CN, LedgerCounts(connected_with_debtor_today=3), NOON_SH)
    assert d.rule_ids == ["cap:connected-per-debtor-per-day"]
    assert "3 connected calls" in d.message


def test_rolling_7_day_cap_clears_when_the_oldest_attempt_leaves() -> None:
    attempts = tuple(NOON_NY - timedelta(days=6, hours=2) + timedelta(hours=20 * i) for i in range(7))
    assert evaluate(us_ctx(), US, LedgerCounts(debtor_attempts_7d=attempts[1:]), NOON_NY).allowed
    d = evaluate(us_ctx(), US, LedgerCounts(debtor_attempts_7d=attempts), NOON_NY)
    assert d.rule_ids == ["cap:attempts-per-debtor-7d"]
    assert d.next_allowed_at == attempts[0] + timedelta(days=7)
    assert evaluate(us_ctx(), US, LedgerCounts(debtor_attempts_7d=attempts), d.next_allowed_at).allowed
    # attempts older than 7 days are ignored even if the caller passes them
    old = (NOON_NY - timedelta(days=8),) * 7
    assert evaluate(us_ctx(), US, LedgerCounts(debtor_attempts_7d=old), NOON_NY).allowed


def test_rolling_cap_whose_clearing_instant_is_outside_the_window_waits_for_the_window() -> None:
    attempts = (local(NY, 2026, 6, 3, 22, 30),) + (local(NY, 2026, 6, 9, 12, 0),) * 6
    d = evaluate(us_ctx(), US, LedgerCounts(debtor_attempts_7d=attempts), local(NY, 2026, 6, 10, 20, 0))
    assert d.rule_ids == ["cap:attempts-per-debtor-7d"]
    assert d.next_allowed_at == local(NY, 2026, 6, 11, 8, 0)  # cleared at 22:30, window reopens 08:00


def test_quiet_days_after_conversation_day_one_is_the_conversation_day() -> None:
    talk = local(NY, 2026, 6, 1, 23, 30)  # Monday night, day 1
    ledger = LedgerCounts(last_conversation_at=talk)
    d = evaluate(us_ctx(), US, ledger, local(NY, 2026, 6, 7, 12, 0))  # day 7
    assert d.rule_ids == ["cap:quiet-after-conversation"]
    assert d.next_allowed_at == local(NY, 2026, 6, 8, 8, 0)  # day 8, at the window start
    assert evaluate(us_ctx(), US, ledger, local(NY, 2026, 6, 8, 8, 0)).allowed


def test_min_gap_between_unanswered_attempts_on_same_number() -> None:
    last = NOON_NY - timedelta(minutes=3)
    d = evaluate(us_ctx(), US, LedgerCounts(last_unanswered_to_number_at=last), NOON_NY)
    assert d.rule_ids == ["cap:min-gap-unanswered"]
    assert d.next_allowed_at == last + timedelta(minutes=5)
    assert evaluate(
        us_ctx(), US, LedgerCounts(last_unanswered_to_number_at=last), last + timedelta(minutes=5)
    ).allowed


def test_day_boundary_is_the_earliest_midnight_over_zones() -> None:
    now = local(NY, 2026, 6, 10, 12, 0)
    ranges = ledger_ranges(now, [NY, "America/Los_Angeles"])
    assert ranges.day_start_utc == local(NY, 2026, 6, 10, 0, 0)
    assert ranges.day_zone == NY
    assert ranges.rolling_7d_start_utc == now - timedelta(days=7)
    sh = ranges_for(ctx(), CN, local(SH, 2026, 6, 10, 23, 59))
    assert sh.day_start_utc == utc(2026, 6, 9, 16, 0)


def test_day_cap_with_several_zones_clears_when_every_zone_has_a_new_day() -> None:
    c = us_ctx(number="+12085551234", address_zone=NY)
    d = evaluate(c, US, LedgerCounts(unanswered_to_number_today=7), local(NY, 2026, 6, 10, 12, 0))
    assert d.rule_ids == ["cap:unanswered-per-number-per-day"]
    assert d.next_allowed_at == local(NY, 2026, 6, 11, 11, 0)


# --- holds
@pytest.mark.parametrize(
    "reason",
    ["dispute", "denies_card", "suspected_fraud", "deceased", "cease_request", "attorney", "bankruptcy"],
)
def test_hard_stops_block_and_cannot_be_overridden(reason: str) -> None:
    d = evaluate(ctx(holds=(reason,), override=supervisor()), CN, NONE, NOON_SH)
    assert not d.allowed and not d.overridden
    assert d.code == "case-on-hold"
    assert d.rule_ids == [f"hold:{reason}"]
    assert d.next_allowed_at is None
    assert "cannot be overridden" in d.details["override_refused"]


def test_a_hold_for_another_reason_blocks_until_released() -> None:
    # cases accept the hold reason "other"; the gate once failed on it with a 500 (found by the contract fuzz run)
    d = evaluate(ctx(holds=("other",), override=supervisor()), CN, NONE, NOON_SH)
    assert not d.allowed and not d.overridden
    assert d.code == "case-on-hold" and d.rule_ids == ["hold:other"]


def test_every_case_hold_reason_is_one_the_gate_knows() -> None:
    assert set(HOLD_REASONS) == set(get_args(HoldReason))


def test_soft_holds_follow_client_policy() -> None:
    allow = CN.model_copy(update={"holds": {"hardship": "allow", "illness": "block", "pregnancy": "block"}})
    assert evaluate(ctx(holds=("hardship",)), allow, NONE, NOON_SH).allowed
    blocked = evaluate(ctx(holds=("illness",), override=supervisor()), allow, NONE, NOON_SH)
    assert not blocked.allowed and blocked.code == "case-on-hold"
    d = evaluate(ctx(holds=("pregnancy",)), CN, NONE, NOON_SH)  # CN: supervisor_override
    assert not d.allowed
    over = evaluate(ctx(holds=("pregnancy",), override=supervisor()), CN, NONE, NOON_SH)
    assert over.allowed and over.overridden and over.code == "case-on-hold"


def test_severity_orders_codes_and_every_block_is_reported() -> None:
    policy = CN.model_copy(update={"do_not_call_numbers": frozenset({"+8613800138000"})})
    d = evaluate(
        ctx(holds=("dispute",)),
        policy,
        LedgerCounts(unanswered_to_number_today=9),
        local(SH, 2026, 6, 10, 22, 0),
    )
    assert d.code == "case-on-hold"
    assert d.rule_ids == [
        "hold:dispute",
        "do-not-call:list",
        "calling-hours",
        "cap:unanswered-per-number-per-day",
    ]
    assert d.next_allowed_at is None


# --- do-not-call
def test_do_not_call_exact_prefix_and_status() -> None:
    exact = CN.model_copy(update={"do_not_call_numbers": frozenset({"+8613800138000"})})
    assert evaluate(ctx(), exact, NONE, NOON_SH).rule_ids == ["do-not-call:list"]
    assert evaluate(ctx(number="+8613800138001"), exact, NONE, NOON_SH).allowed
    prefix = CN.model_copy(update={"do_not_call_prefixes": frozenset({"+86138001"})})
    d = evaluate(ctx(), prefix, NONE, NOON_SH)
    assert d.code == "do-not-call" and d.rule_ids == ["do-not-call:prefix"]
    assert evaluate(ctx(number="+8613900138000"), prefix, NONE, NOON_SH).allowed
    assert evaluate(ctx(number_status="do_not_call"), CN, NONE, NOON_SH).rule_ids == [
        "do-not-call:number-status"
    ]
    assert evaluate(ctx(number_status="invalid"), CN, NONE, NOON_SH).code == "do-not-call"
    refused = evaluate(ctx(override=supervisor()), prefix, NONE, NOON_SH)
    assert not refused.allowed and not refused.overridden


# --- third parties
def test_third_party_rules() -> None:
    tp = {"number_kind": "third_party"}
    d = evaluate(ctx(**tp), CN, LedgerCounts(consecutive_failed_own_attempts=2), NOON_SH)
    assert d.code == "third-party-restricted" and d.rule_ids == ["third-party:debtor-not-unreachable"]
    assert evaluate(ctx(**tp), CN, LedgerCounts(consecutive_failed_own_attempts=3), NOON_SH).allowed
    assert evaluate(ctx(own_numbers_all_invalid=True, **tp), CN, NONE, NOON_SH).allowed
    once = evaluate(
        ctx(**tp), CN, LedgerCounts(consecutive_failed_own_attempts=3, third_party_calls_to_number=1), NOON_SH
    )
    assert once.rule_ids == ["third-party:already-called"]
    objected = evaluate(
        ctx(third_party_objected=True, override=supervisor(), **tp),
        CN,
        LedgerCounts(consecutive_failed_own_attempts=5),
        NOON_SH,
    )
    assert objected.rule_ids == ["third-party:objected"] and not objected.allowed
    off = CN.model_copy(update={"third_party_allowed": False})
    assert (
        "third-party:disabled"
        in evaluate(ctx(**tp), off, LedgerCounts(consecutive_failed_own_attempts=5), NOON_SH).rule_ids
    )
    # own numbers are never subject to the third-party rules
    assert evaluate(ctx(third_party_objected=True), CN, NONE, NOON_SH).allowed


# --- unknown time zone
def test_unknown_timezone_blocks_without_next() -> None:
    d = evaluate(us_ctx(number="+15555555555"), US, NONE, NOON_NY)
    assert d.code == "unknown-timezone" and d.next_allowed_at is None and d.zones == []
    fallback = US.model_copy(update={"unknown_timezone": "country_zones"})
    d2 = evaluate(us_ctx(number="+15555555555"), fallback, NONE, local(NY, 2026, 6, 10, 15, 0))
    # every NANP zone from Guam (+10) to Pago Pago (-11) and St John's (-2:30) must be in 08:00-21:00:
    # only 22:00-23:30 UTC (18:00-19:30 in New York) qualifies
    assert d2.code == "outside-calling-hours"
    assert "It is 05:00 (thu) in Pacific/Guam (country)" in d2.message
    assert d2.next_allowed_at == utc(2026, 6, 10, 22, 0)
    assert {z.source for z in d2.zones} == {"country"} and len(d2.zones) > 10
    assert evaluate(us_ctx(number="+15555555555"), fallback, NONE, utc(2026, 6, 10, 23, 29)).allowed
    assert not evaluate(us_ctx(number="+15555555555"), fallback, NONE, utc(2026, 6, 10, 23, 30)).allowed


# --- agreed windows in the gate
def test_agreed_window_applies_to_its_scope_only_and_never_lifts_hard_stops() -> None:
    late = local(SH, 2026, 6, 10, 21, 30)
    by_number = AgreedWindow(
        scope="number",
        scope_value="+8613800138000",
        intervals=(interval("21:00", "22:00"),),
        recorded_by="agent-7",
        agreed_on_call_id="call-1",
    )
    assert evaluate(ctx(agreed_windows=(by_number,)), CN, NONE, late).allowed
    other = evaluate(ctx(number="+8613900000000", agreed_windows=(by_number,)), CN, NONE, late)
    assert other.code == "outside-calling-hours"
    by_case = by_number.model_copy(update={"scope": "case", "scope_value": "case-1"})
    assert evaluate(ctx(number="+8613900000000", agreed_windows=(by_case,)), CN, NONE, late).allowed
    assert not evaluate(ctx(case_id="case-2", agreed_windows=(by_case,)), CN, NONE, late).allowed
    expired = by_number.model_copy(update={"expires_at": late - timedelta(minutes=1)})
    assert not evaluate(ctx(agreed_windows=(expired,)), CN, NONE, late).allowed
    held = evaluate(ctx(holds=("attorney",), agreed_windows=(by_number,)), CN, NONE, late)
    assert held.code == "case-on-hold" and held.rule_ids == ["hold:attorney"]
    dnc = CN.model_copy(update={"do_not_call_numbers": frozenset({"+8613800138000"})})
    assert evaluate(ctx(agreed_windows=(by_number,)), dnc, NONE, late).code == "do-not-call"


# --- overrides
def test_override_of_hours_needs_policy_role_and_reason() -> None:
    late = local(SH, 2026, 6, 10, 21, 30)
    d = evaluate(ctx(override=supervisor()), CN, NONE, late)
    assert d.allowed and d.overridden
    assert d.override_reason == "debtor asked for a call back now"
    assert d.code == "outside-calling-hours" and d.rule_ids == ["calling-hours"]
    assert not evaluate(ctx(override=supervisor("  ")), CN, NONE, late).allowed
    agent = OverrideRequest(role="agent", reason="please", requested_by="a-1")
    refused = evaluate(ctx(override=agent), CN, NONE, late)
    assert not refused.allowed and "role 'agent'" in refused.details["override_refused"]
    us = evaluate(us_ctx(override=supervisor()), US, NONE, local(NY, 2026, 6, 10, 21, 30))
    assert not us.allowed and "does not allow" in us.message


def test_demo_allows_every_hour() -> None:
    for hour in range(24):
        assert evaluate(ctx(), DEMO, NONE, local(SH, 2026, 6, 10, hour, 17)).allowed


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError):
        evaluate(ctx(), CN, NONE, NOON_SH.replace(tzinfo=None))


def test_dial_context_requires_an_e164_number() -> None:
    with pytest.raises(ValueError):
        ctx(number="013800138000")
