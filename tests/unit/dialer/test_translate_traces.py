"""Replays raw AMI traces recorded from the real Asterisk 22 sandbox through the parser, the
translation and the state machine; every scenario ends in the right state, in any event order."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.ami import AmiParser
from dialer.states import CallFacts, CallState, EndReason, derive
from dialer.translate import FactUpdate, translate

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

EXPECTED = {
    "answered_call": (EndReason.COMPLETED, True),
    "customer_hangs_up": (EndReason.COMPLETED, True),
    "customer_busy": (EndReason.CUSTOMER_BUSY, False),
    "customer_no_answer": (EndReason.CUSTOMER_NO_ANSWER, False),
    "customer_unavailable_503": (EndReason.CUSTOMER_UNREACHABLE, False),
    "customer_not_found_404": (EndReason.CUSTOMER_UNREACHABLE, False),
    "agent_no_answer": (EndReason.AGENT_NO_ANSWER, False),
    "agent_reject": (EndReason.AGENT_REJECTED, False),
    "agent_offline": (EndReason.AGENT_UNAVAILABLE, False),
}


def updates(scenario: str) -> tuple[str, list[FactUpdate]]:
    parser = AmiParser()
    msgs = parser.feed((TRACES / f"{scenario}.trace").read_bytes())
    call_id = (TRACES / f"{scenario}.summary.txt").read_text().split("\n", 1)[0].removeprefix("call id ").strip()
    ups = [u for m in msgs if (u := translate(m, T0)) is not None]
    return call_id, ups


def fold(call_id: str, ups: list[FactUpdate]) -> CallFacts:
    facts = CallFacts(requested_at=T0)
    for u in ups:
        if u.call_id == call_id:
            facts = facts.merge(**u.facts)
    return facts


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_ends_with_the_right_reason(scenario: str) -> None:
    call_id, ups = updates(scenario)
    assert ups, "the trace produced no facts"
    assert {u.call_id for u in ups} == {call_id}, "facts attributed to a call that is not ours"
    status = derive(fold(call_id, ups))
    reason, answered = EXPECTED[scenario]
    assert status.state is CallState.ENDED
    assert status.end_reason is reason
    assert (status.talk_seconds is not None) is answered


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_any_order_of_the_same_events_gives_the_same_call(scenario: str) -> None:
    call_id, ups = updates(scenario)
    expected = derive(fold(call_id, ups))
    rng = random.Random(scenario)
    for _ in range(20):
        shuffled = ups[:]
        rng.shuffle(shuffled)
        assert derive(fold(call_id, shuffled)) == expected


def test_answered_trace_passes_through_every_state() -> None:
    call_id, ups = updates("answered_call")
    seen = []
    facts = CallFacts(requested_at=T0)
    for u in ups:
        facts = facts.merge(**u.facts)
        state = derive(facts).state
        if not seen or seen[-1] != state:
            seen.append(state)
    assert seen == [CallState.REQUESTED, CallState.AGENT_RINGING, CallState.AGENT_ANSWERED,
                    CallState.CUSTOMER_RINGING, CallState.ANSWERED, CallState.ENDED]
