"""The presence state machine: a pure function of facts and the time, the same whatever order facts came in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from presence.states import (
    AgentFacts,
    AgentState,
    CallPhase,
    Intent,
    Presence,
    call_answered,
    call_ended,
    call_rings,
    choose,
    derive,
    disposed,
    phone,
)

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=30)


def test_an_agent_never_heard_of_is_available() -> None:
    assert derive(AgentFacts(), T0) == Presence(AgentState.AVAILABLE)


@pytest.mark.parametrize(("facts", "expected"), [
    (AgentFacts(call_phase=CallPhase.RINGING, call_id="c"), Presence(AgentState.RINGING)),
    (AgentFacts(call_phase=CallPhase.ON_CALL, call_id="c", registered=False), Presence(AgentState.ON_CALL)),
    (AgentFacts(registered=False, intent=Intent.PAUSED, pause_code="break"),
     Presence(AgentState.OFFLINE, reason="phone_unregistered")),
    (AgentFacts(registered=True, intent=Intent.LOGGED_OUT), Presence(AgentState.OFFLINE, reason="logged_out")),
    (AgentFacts(registered=True, intent=Intent.PAUSED, pause_code="meeting", wrap_up_until=LATER),
     Presence(AgentState.WRAP_UP)),
    (AgentFacts(intent=Intent.PAUSED, pause_code="meeting", wrap_up_until=T0),
     Presence(AgentState.PAUSED, pause_code="meeting")),
    (AgentFacts(registered=True), Presence(AgentState.AVAILABLE)),
])
def test_derived_state_follows_the_precedence(facts: AgentFacts, expected: Presence) -> None:
    assert derive(facts, T0) == expected


def test_wrap_up_ends_at_its_deadline_not_before() -> None:
    f = AgentFacts(registered=True, call_id="c", wrap_up_until=LATER)
    assert derive(f, LATER - timedelta(microseconds=1)).state is AgentState.WRAP_UP
    assert derive(f, LATER).state is AgentState.AVAILABLE


def test_a_registered_phone_that_goes_away_logs_the_agent_out_and_registering_again_does_not_make_it_available(
) -> None:
    f = phone(AgentFacts(), True)
    assert derive(f, T0).state is AgentState.AVAILABLE
    f = phone(f, False)
    assert derive(f, T0) == Presence(AgentState.OFFLINE, reason="phone_unregistered")
    f = phone(f, True)
    assert derive(f, T0) == Presence(AgentState.OFFLINE, reason="logged_out")
    f = choose(f, Intent.AVAILABLE, None)
    assert derive(f, T0).state is AgentState.AVAILABLE


def test_a_phone_first_seen_unregistered_keeps_the_agent_s_choice() -> None:
    """Only a registered phone going away logs out: a phone seen offline at first sight, then registering,
    is available (an agent that never logged in with a softphone yet)."""
    f = phone(AgentFacts(), False)
    assert derive(f, T0).reason == "phone_unregistered"
    assert derive(phone(f, True), T0).state is AgentState.AVAILABLE


def test_a_call_rings_is_answered_ends_and_wraps_up_until_the_disposition() -> None:
    f = AgentFacts(registered=True)
    f = call_rings(f, "c1")
    assert derive(f, T0).state is AgentState.RINGING
    f = call_answered(f, "c1")
    assert derive(f, T0).state is AgentState.ON_CALL
    f = call_ended(f, "c1", wrap_up_until=LATER)
    assert derive(f, T0).state is AgentState.WRAP_UP
    assert disposed(f, "other") == f  # another call's disposition does not end this wrap-up
    f = disposed(f, "c1")
    assert derive(f, T0).state is AgentState.AVAILABLE


def test_a_call_the_agent_never_answered_has_no_wrap_up() -> None:
    f = call_ended(call_rings(AgentFacts(), "c1"), "c1", wrap_up_until=None)
    assert derive(f, T0).state is AgentState.AVAILABLE


def test_a_pause_asked_for_during_a_call_applies_after_it_and_a_choice_ends_wrap_up() -> None:
    f = call_answered(AgentFacts(registered=True), "c1")
    f = choose(f, Intent.PAUSED, "break")
    assert derive(f, T0).state is AgentState.ON_CALL
    f = call_ended(f, "c1", wrap_up_until=LATER)
    assert derive(f, T0).state is AgentState.WRAP_UP
    f = choose(f, Intent.PAUSED, "break")
    assert derive(f, T0) == Presence(AgentState.PAUSED, pause_code="break")


def test_the_end_of_an_older_call_or_a_corrected_end_changes_nothing() -> None:
    f = call_answered(call_rings(AgentFacts(), "c1"), "c1")
    f = call_rings(f, "c2")  # a second call rings while the first is up
    assert call_ended(f, "c1", wrap_up_until=LATER) == f
    ended = call_ended(call_answered(f, "c2"), "c2", wrap_up_until=LATER)
    done = disposed(ended, "c2")
    assert call_ended(done, "c2", wrap_up_until=LATER) == done  # call.corrected: still ended, no new wrap-up


def test_choosing_available_forgets_the_pause_code() -> None:
    f = choose(AgentFacts(), Intent.PAUSED, "training")
    assert f.pause_code == "training"
    assert choose(f, Intent.AVAILABLE, "training").pause_code is None


Step = Callable[[AgentFacts], AgentFacts]
_ORDERLESS: dict[str, Step] = {
    "registered": lambda f: phone(f, True),
    "paused": lambda f: choose(f, Intent.PAUSED, "meeting"),
}


def test_the_pbx_report_and_the_agent_s_choice_commute() -> None:
    """Registration and the agent's choice arrive from different sources in any order: same state."""
    results = set()
    for order in itertools.permutations(_ORDERLESS.values()):
        f = AgentFacts()
        for step in order:
            f = step(f)
        results.add(derive(f, T0))
    assert results == {Presence(AgentState.PAUSED, pause_code="meeting")}
