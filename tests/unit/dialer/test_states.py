"""The call state machine: derived from facts, independent of event order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dialer.states import CallFacts, CallState, EndReason, derive

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


ANSWERED_FACTS: list[dict[str, object]] = [
    {"originated_at": at(0.1)},
    {"agent_ringing_at": at(0.2), "agent_channel": "PJSIP/agent1-0001"},
    {"agent_answered_at": at(2)},
    {"customer_ringing_at": at(2.1), "customer_channel": "PJSIP/customers-0002"},
    {"answered_at": at(5)},
    {"dial_status": "ANSWER", "answered_at": at(5)},
    {"customer_cause": 16, "customer_cause_text": "Normal Clearing"},
    {"ended_at": at(65), "agent_cause": 16, "agent_cause_text": "Normal Clearing"},
]


def fold(updates: list[dict[str, object]]) -> CallFacts:
    facts = CallFacts(requested_at=T0)
    for u in updates:
        facts = facts.merge(**u)
    return facts


def test_answered_call_completes_with_ring_and_talk_seconds() -> None:
    status = derive(fold(ANSWERED_FACTS))
    assert status.state is CallState.ENDED
    assert status.end_reason is EndReason.COMPLETED
    assert status.talk_seconds == 60.0
    assert status.ring_seconds == 2.9
    assert status.hangup_cause == 16


@given(st.permutations(ANSWERED_FACTS))
def test_event_order_does_not_matter(order: list[dict[str, object]]) -> None:
    assert derive(fold(order)) == derive(fold(ANSWERED_FACTS))
    assert fold(order) == fold(ANSWERED_FACTS)


def test_progress_states() -> None:
    assert derive(fold([])).state is CallState.REQUESTED
    assert derive(fold(ANSWERED_FACTS[:2])).state is CallState.AGENT_RINGING
    assert derive(fold(ANSWERED_FACTS[:3])).state is CallState.AGENT_ANSWERED
    assert derive(fold(ANSWERED_FACTS[:4])).state is CallState.CUSTOMER_RINGING
    assert derive(fold(ANSWERED_FACTS[:5])).state is CallState.ANSWERED


def test_earliest_timestamp_wins_and_first_status_sticks() -> None:
    facts = CallFacts(requested_at=T0).merge(answered_at=at(5)).merge(answered_at=at(4)).merge(answered_at=at(6))
    assert facts.answered_at == at(4)
    facts = facts.merge(dial_status="ANSWER").merge(dial_status="BUSY")
    assert facts.dial_status == "ANSWER"


def _ended_with(**facts: object) -> EndReason | None:
    base: dict[str, object] = {"agent_answered_at": at(2), "customer_ringing_at": at(2.1), "ended_at": at(30)}
    base.update(facts)
    return derive(fold([base])).end_reason


def test_customer_outcomes_from_dial_status() -> None:
    assert _ended_with(dial_status="BUSY") is EndReason.CUSTOMER_BUSY
    assert _ended_with(dial_status="NOANSWER") is EndReason.CUSTOMER_NO_ANSWER
    assert _ended_with(dial_status="CHANUNAVAIL") is EndReason.CUSTOMER_UNREACHABLE
    assert _ended_with(dial_status="CONGESTION") is EndReason.CUSTOMER_UNREACHABLE
    assert _ended_with(dial_status="CANCEL") is EndReason.CANCELLED


def test_agent_outcomes() -> None:
    def agent_end(**facts: object) -> EndReason | None:
        return derive(fold([{"ended_at": at(30), **facts}])).end_reason

    assert agent_end(agent_cause=21) is EndReason.AGENT_REJECTED
    assert agent_end(agent_cause=17) is EndReason.AGENT_REJECTED
    assert agent_end(agent_cause=19) is EndReason.AGENT_NO_ANSWER
    assert agent_end(originate_reason=3) is EndReason.AGENT_NO_ANSWER
    assert agent_end(agent_cause=20) is EndReason.AGENT_UNAVAILABLE
    assert agent_end(originate_reason=0) is EndReason.AGENT_UNAVAILABLE
    assert agent_end(cancel_requested_at=at(3)) is EndReason.CANCELLED
    assert agent_end() is EndReason.FAILED


def test_failure_wins_even_after_answer() -> None:
    facts = fold([*ANSWERED_FACTS[:6], {"failure": "lost-by-pbx", "ended_at": at(40)}])
    status = derive(facts)
    assert status.end_reason is EndReason.FAILED
    assert status.talk_seconds == 35.0


def test_naive_merge_of_none_is_ignored() -> None:
    facts = CallFacts(requested_at=T0).merge(answered_at=None, dial_status=None)
    assert facts == CallFacts(requested_at=T0)
