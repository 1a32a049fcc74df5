"""A blocked dial's explanation in zh-CN: every rule worded from its block's facts, none left generic."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from compliance.decision import Decision, DialContext, OverrideRequest
from compliance.explain import block_text, explain
from compliance.gate import evaluate, evaluate_cases
from compliance.ledger import LedgerCounts
from compliance.profiles import CN, US
from core.i18n import render
from core.messages import RULES

from .conftest import local

SH = "Asia/Shanghai"
NY = "America/New_York"
NOON_SH = local(SH, 2026, 6, 10, 12, 0)
NOON_NY = local(NY, 2026, 6, 10, 12, 0)
NONE = LedgerCounts()
_CJK = re.compile(r"[\u4e00-\u9fff]")


def ctx(**kw: Any) -> DialContext:
    return DialContext.model_validate({"number": "+8613800138000", "case_id": "case-1", **kw})


def us(**kw: Any) -> DialContext:
    return ctx(**{"number": "+12125551234", **kw})


def supervisor(reason: str = "debtor asked for it", role: str = "supervisor") -> OverrideRequest:
    return OverrideRequest(role=role, reason=reason, requested_by="sup-1")


TP = {"number_kind": "third_party"}
ATTEMPTS = tuple(NOON_NY - timedelta(days=6, hours=2) + timedelta(hours=20 * i) for i in range(7))
DECISIONS: dict[str, Decision] = {
    "hours": evaluate(us(address_zone=NY), US, NONE, local(NY, 2026, 6, 10, 21, 30)),
    "holiday": evaluate(ctx(), CN.model_copy(update={"holidays": frozenset({date(2026, 6, 10)})}), NONE, NOON_SH),
    "holds": evaluate(ctx(holds=("bankruptcy", "pregnancy", "other")), CN, NONE, NOON_SH),
    "soft-hold-blocks": evaluate(ctx(holds=("illness",)), CN.model_copy(update={"holds": {"illness": "block"}}),
                                 NONE, NOON_SH),
    "ended": evaluate(ctx(case_status="paid"), CN, NONE, NOON_SH),
    "returned": evaluate(ctx(case_status="returned"), CN, NONE, NOON_SH),
    "recalled": evaluate(ctx(case_status="recalled"), CN, NONE, NOON_SH),
    "closed": evaluate(ctx(case_status="closed"), CN, NONE, NOON_SH),
    "number-status": evaluate(ctx(number_status="do_not_call"), CN, NONE, NOON_SH),
    "number-invalid": evaluate(ctx(number_status="invalid"), CN, NONE, NOON_SH),
    "dnc-list": evaluate(ctx(), CN.model_copy(update={"do_not_call_numbers": frozenset({"+8613800138000"})}),
                         NONE, NOON_SH),
    "dnc-prefix": evaluate(ctx(), CN.model_copy(update={"do_not_call_prefixes": frozenset({"+86138001"})}),
                           NONE, NOON_SH),
    "third-party": evaluate(ctx(**TP), CN, LedgerCounts(third_party_calls_to_number=5), NOON_SH),
    "third-party-off": evaluate(ctx(**TP, third_party_objected=True),
                                CN.model_copy(update={"third_party_allowed": False}),
                                LedgerCounts(consecutive_failed_own_attempts=5), NOON_SH),
    "unknown-zone": evaluate(us(number="+15555555555"), US, NONE, NOON_NY),
    "caps": evaluate(ctx(), CN, LedgerCounts(unanswered_to_number_today=9, connected_with_debtor_today=3,
                                             last_unanswered_to_number_at=NOON_SH - timedelta(minutes=5)), NOON_SH),
    "rolling": evaluate(us(), US, LedgerCounts(debtor_attempts_7d=ATTEMPTS), NOON_NY),
    "quiet": evaluate(us(), US, LedgerCounts(last_conversation_at=local(NY, 2026, 6, 1, 23, 30)),
                      local(NY, 2026, 6, 7, 12, 0)),
    "override-role": evaluate(ctx(holds=("pregnancy",), override=supervisor(role="agent")), CN, NONE, NOON_SH),
    "override-reason": evaluate(ctx(holds=("pregnancy",), override=supervisor(reason=" ")), CN, NONE, NOON_SH),
    "override-fixed": evaluate(ctx(holds=("bankruptcy",), override=supervisor()), CN, NONE, NOON_SH),
    "override-policy": evaluate(ctx(holds=("pregnancy",), override=supervisor()),
                                CN.model_copy(update={"allow_supervisor_override": False}), NONE, NOON_SH),
}


def _scalars(params: dict[str, Any]) -> list[str]:
    out = []
    for key, value in params.items():
        if isinstance(value, str | int) and not isinstance(value, bool) and key not in ("reason", "mode"):
            out.append(str(value))
    return out


@pytest.mark.parametrize("name", DECISIONS)
def test_every_block_is_worded_from_its_facts_in_chinese(name: str) -> None:
    d = DECISIONS[name]
    assert not d.allowed and d.details["blocks"], d.message
    for block in d.details["blocks"]:
        zh = block_text(block, "zh-CN")
        assert zh != render(block["code"], {}, "zh-CN"), f"{block['rule_id']} fell back to its code's sentence"
        assert _CJK.search(zh) and "{" not in zh
        for fact in _scalars(block["params"]):
            assert fact in zh, (block["rule_id"], fact, zh)
    text = explain(d, "zh-CN")
    assert text.endswith("。") and "{" not in text


def test_the_explanation_says_when_the_dial_is_next_allowed() -> None:
    text = explain(DECISIONS["hours"], "zh-CN")
    assert text == ("超出允许的呼叫时间：America/New_York（时区依据：地址、号码归属地）当地时间为 21:30（周三），"
                    "允许呼叫的时间为 08:00-21:00。"
                    "下次可呼叫时间：America/New_York 当地时间 2026-06-11 08:00（UTC 2026-06-11 12:00）。")
    assert "08:00-21:00" in explain(DECISIONS["hours"], "en")


def test_a_hold_names_its_reason_and_whether_it_can_be_lifted() -> None:
    text = explain(DECISIONS["holds"], "zh-CN")
    assert "案件 case-1 因债务人已进入破产程序暂停催收；这是法定停止" in text
    assert "案件 case-1 因债务人怀孕暂停催收；策略 CN 允许主管放行。" in text
    assert "因其他原因暂停催收（见暂停备注）" in text
    assert "禁止呼叫" in explain(DECISIONS["soft-hold-blocks"], "zh-CN")


@pytest.mark.parametrize(("name", "words"), [
    ("override-role", "主管放行未被接受：坐席无权放行（需要主管）"), ("override-reason", "必须填写放行理由"),
    ("override-fixed", "hold:bankruptcy 不能被放行"), ("override-policy", "策略 CN 不允许主管放行"),
])
def test_a_refused_override_says_why(name: str, words: str) -> None:
    assert words in explain(DECISIONS[name], "zh-CN")


def test_a_dial_without_a_case_names_each_case_it_was_checked_against() -> None:
    held = ctx(case_id="c2", holds=("bankruptcy",))
    d = evaluate_cases([(ctx(case_id="c1"), NONE), (held, NONE)], CN, NOON_SH, clients={"c1": "b1", "c2": "b2"})
    text = explain(d, "zh-CN")
    assert text.startswith("号码 +8613800138000 属于 2 个案件（c1、c2），均按其中最严格的策略 CN 检查。")
    assert "案件 c2：案件 c2 因债务人已进入破产程序暂停催收" in text and "案件 c1：" not in text


def test_a_block_logged_without_its_facts_falls_back_to_its_codes_sentence() -> None:
    assert block_text({"rule_id": "calling-hours", "code": "outside-calling-hours", "params": {}}, "zh-CN") == \
        "超出允许的呼叫时间。"
    assert block_text({"rule_id": "cap:new-rule", "code": "frequency-cap"}, "zh-CN") == "已达到呼叫次数或间隔的限制。"


def test_every_rule_the_gate_can_raise_has_its_words() -> None:
    raised = {b["rule_id"] for d in DECISIONS.values() for b in d.details["blocks"]}
    families = {r if not r.startswith("hold:") else "hold" for r in raised}
    assert {k for k in RULES if not k.startswith("hold:")} >= families - {"hold"}


def test_an_allowed_dial_says_why_it_may_go_ahead() -> None:
    assert explain(evaluate(ctx(), CN, NONE, NOON_SH), "zh-CN") == \
        "策略 CN 允许这次呼叫：Asia/Shanghai 当地时间 12:00，在允许的呼叫时间内，且没有次数限制或暂停。"
    overridden = evaluate(ctx(holds=("pregnancy",), override=supervisor("客户要求回电")), CN, NONE, NOON_SH)
    assert overridden.allowed and overridden.overridden
    assert explain(overridden, "zh-CN") == ("主管已放行（理由：客户要求回电），尽管："
                                            "案件 case-1 因债务人怀孕暂停催收；策略 CN 允许主管放行。")
