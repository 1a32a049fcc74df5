"""Customer number plan: dialled number -> simulated customer behaviour."""

from __future__ import annotations

import pytest

from sandbox.phones.numberplan import EXAMPLE_NUMBERS, behaviour_for


@pytest.mark.parametrize(
    ("number", "action", "code"),
    [
        ("+8613800000001", "answer", 0),
        ("+12025550486", "reject", 486),
        ("+8613800000408", "never", 0),
        ("8613800000503", "reject", 503),
        ("+1 (202) 555-0404", "reject", 404),
        ("+8613800000603", "reject", 603),
        ("+8613912345678", "answer", 0),
    ],
)
def test_plan(number: str, action: str, code: int) -> None:
    behaviour = behaviour_for(number)
    assert (behaviour.action, behaviour.reject_code) == (action, code)


def test_hangup_plan_and_overrides() -> None:
    assert behaviour_for("+8613800000002").talk_seconds == 5.0
    assert behaviour_for("+8613800000001").talk_seconds is None
    assert behaviour_for("+8613800000001", talk_seconds=2, tone_hz=440).talk_seconds == 2
    assert behaviour_for("+8613800000001", tone_hz=440).tone_hz == 440
    assert behaviour_for("+8613800000486", talk_seconds=2).talk_seconds is None  # rejects stay rejects


def test_example_numbers_follow_the_plan() -> None:
    expected = {"answer": "answer", "answer_then_hangup": "answer", "busy": "reject", "no_answer": "never",
                "unavailable": "reject", "not_found": "reject", "decline": "reject"}
    for scenario, numbers in EXAMPLE_NUMBERS.items():
        for number in numbers:
            assert number.startswith("+")
            assert behaviour_for(number).action == expected[scenario], number
