"""Replays raw AMI traces recorded from the real Asterisk 22 sandbox through the parser, the
translation and the state machine; every scenario ends in the right state, with the ring and talk
seconds the trace's own event timestamps give, in every order tried (see the order test)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.ami import AmiParser
from dialer.states import CallFacts, CallState, EndReason, derive
from dialer.translate import FactUpdate, translate

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

#: end reason, ring seconds, talk seconds, from the traces' ``Timestamp`` headers (checked by hand for
#: answered_call: the customer leg rings at 1795971495.1216, is Up at .1312 one second later, and the agent
#: leg hangs up at 1795971498.134)
EXPECTED: dict[str, tuple[EndReason, float | None, float | None]] = {
    "answered_call": (EndReason.COMPLETED, 1.01, 2.003),
    "customer_hangs_up": (EndReason.COMPLETED, 1.007, 5.003),
    "customer_busy": (EndReason.CUSTOMER_BUSY, 0.001, None),
    "customer_no_answer": (EndReason.CUSTOMER_NO_ANSWER, 4.002, None),
    "customer_unavailable_503": (EndReason.CUSTOMER_UNREACHABLE, 0.002, None),
    "customer_not_found_404": (EndReason.CUSTOMER_UNREACHABLE, 0.001, None),
    "agent_no_answer": (EndReason.AGENT_NO_ANSWER, None, None),
    "agent_reject": (EndReason.AGENT_REJECTED, None, None),
    "agent_offline": (EndReason.AGENT_UNAVAILABLE, None, None),
}
#: traces with at most this many fact updates are replayed in every order (8! = 40,320)
EXHAUSTIVE_UP_TO = 8


def updates(scenario: str) -> tuple[str, list[FactUpdate]]:
    parser = AmiParser()
    msgs = parser.feed((TRACES / f"{scenario}.trace").read_bytes())
    call_id = (TRACES / f"{scenario}.summary.txt").read_text().split("\n", 1)[0].removeprefix("call id ").strip()
    # arrival times increase (1 ms apart); the facts take the PBX's own Timestamp header when present
    ups = [u for i, m in enumerate(msgs) if (u := translate(m, T0 + timedelta(milliseconds=i))) is not None]
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
    facts = fold(call_id, ups)
    status = derive(facts)
    reason, ring, talk = EXPECTED[scenario]
    assert status.state is CallState.ENDED
    assert status.end_reason is reason
    assert (status.ring_seconds, status.talk_seconds) == (ring, talk)
    assert facts.ended_at is not None and facts.ended_at > T0 + timedelta(hours=1)  # the PBX's clock, not arrival


def orders(ups: list[FactUpdate], seed: str) -> Iterator[list[FactUpdate]]:
    """Every permutation when there are at most EXHAUSTIVE_UP_TO updates; otherwise a bounded, documented
    set: the reverse, every rotation, every order with one pair swapped (n*(n-1)/2), and 200 seeded
    random shuffles."""
    n = len(ups)
    if n <= EXHAUSTIVE_UP_TO:
        yield from (list(p) for p in itertools.permutations(ups))
        return
    yield ups[::-1]
    for k in range(1, n):
        yield ups[k:] + ups[:k]
    for i, j in itertools.combinations(range(n), 2):
        swapped = ups[:]
        swapped[i], swapped[j] = swapped[j], swapped[i]
        yield swapped
    rng = random.Random(seed)
    for _ in range(200):
        shuffled = ups[:]
        rng.shuffle(shuffled)
        yield shuffled


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_any_order_of_the_same_events_gives_the_same_call(scenario: str) -> None:
    """Orders replayed: see ``orders`` (all of them for the agent-side traces, a bounded set for the rest)."""
    call_id, ups = updates(scenario)
    expected_facts = fold(call_id, ups)
    expected = derive(expected_facts)
    tried = 0
    for order in orders(ups, scenario):
        facts = fold(call_id, order)
        assert facts == expected_facts
        assert derive(facts) == expected
        tried += 1
    n = len(ups)
    assert tried == (math.factorial(n) if n <= EXHAUSTIVE_UP_TO else n + n * (n - 1) // 2 + 200)


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
