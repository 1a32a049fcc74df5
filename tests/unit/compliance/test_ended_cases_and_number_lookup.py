"""The pure parts of the side doors: ended cases block with their own rule, and ``evaluate_cases`` decides a
dial without a case for every case holding the number (fake clock, no database)."""

from __future__ import annotations

import pytest

from compliance.decision import DialContext, OverrideRequest
from compliance.gate import evaluate, evaluate_cases
from compliance.ledger import LedgerCounts
from compliance.profiles import CN
from tests.unit.compliance.conftest import local, window_policy

NUMBER = "+8613800138000"
NOON = local("Asia/Shanghai", 2026, 3, 2, 12)
NIGHT = local("Asia/Shanghai", 2026, 3, 2, 22)


def _ctx(case_id: str, **kw: object) -> DialContext:
    return DialContext.model_validate({"number": NUMBER, "case_id": case_id, **kw})


@pytest.mark.parametrize("status", ["closed", "paid", "returned", "recalled"])
def test_an_ended_case_blocks_first_and_no_override_lifts_it(status: str) -> None:
    sup = OverrideRequest(role="supervisor", reason="the debtor asked for a call")
    d = evaluate(_ctx("c1", case_status=status, holds=("hardship",), override=sup), CN, LedgerCounts(), NIGHT)
    assert not d.allowed and d.code == f"case-{status}" and d.rule_ids[0] == f"case-{status}"
    assert "hold:hardship" in d.rule_ids and "calling-hours" in d.rule_ids
    assert d.next_allowed_at is None and "c1" in d.message
    assert d.details["override_refused"].endswith(f"case-{status} cannot be overridden.")


@pytest.mark.parametrize("status", ["active", "on_hold"])
def test_an_open_case_is_not_blocked_by_its_status(status: str) -> None:
    assert evaluate(_ctx("c1", case_status=status), CN, LedgerCounts(), NOON).allowed


def test_every_case_must_pass_and_each_is_named() -> None:
    clean, held = _ctx("c1"), _ctx("c2", holds=("deceased",))
    d = evaluate_cases([(clean, LedgerCounts()), (held, LedgerCounts())], CN, NOON,
                       clients={"c1": "bank1", "c2": "bank2"})
    assert not d.allowed and d.code == "case-on-hold" and d.rule_ids == ["hold:deceased"]
    assert "c1 (client bank1), c2 (client bank2)" in d.message and d.next_allowed_at is None
    assert [(c["case_id"], c["allowed"]) for c in d.details["cases"]] == [("c1", True), ("c2", False)]
    assert [b["case_id"] for b in d.details["blocks"]] == ["c2"]
    both = evaluate_cases([(clean, LedgerCounts()), (_ctx("c3"), LedgerCounts())], CN, NOON,
                          clients={"c1": "bank1", "c3": "bank1"})
    assert both.allowed and both.message.count("Call allowed") == 2


def test_the_latest_case_decides_when_the_dial_may_go_next() -> None:
    # case c2 states a zone two hours behind Shanghai (Asia/Dhaka): its window opens two hours later
    policy = window_policy("08:00", "21:00")
    early = local("Asia/Shanghai", 2026, 3, 2, 7)  # 07:00 Shanghai, 05:00 Dhaka
    a, b = _ctx("c1", case_zone="Asia/Shanghai"), _ctx("c2", case_zone="Asia/Dhaka")
    d = evaluate_cases([(a, LedgerCounts()), (b, LedgerCounts())], policy, early, clients={})
    alone = [evaluate(c, policy, LedgerCounts(), early).next_allowed_at for c in (a, b)]
    assert not d.allowed and d.next_allowed_at == max(n for n in alone if n is not None)
    assert d.next_allowed_at == local("Asia/Dhaka", 2026, 3, 2, 8)


def test_an_override_passes_only_when_every_case_lets_it() -> None:
    sup = OverrideRequest(role="supervisor", reason="agreed with the bank")
    soft, clean = _ctx("c1", holds=("hardship",), override=sup), _ctx("c2", override=sup)
    d = evaluate_cases([(soft, LedgerCounts()), (clean, LedgerCounts())], CN, NOON, clients={})
    assert d.allowed and d.overridden and d.code == "case-on-hold" and d.rule_ids == ["hold:hardship"]
    hard = _ctx("c3", holds=("attorney",), override=sup)
    refused = evaluate_cases([(soft, LedgerCounts()), (hard, LedgerCounts())], CN, NOON, clients={})
    assert not refused.allowed and refused.rule_ids == ["hold:hardship", "hold:attorney"]


def test_no_case_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one case"):
        evaluate_cases([], CN, NOON, clients={})
