"""Customer number plan: what the simulated customer line does for a dialled number (pure).

The behaviour is chosen by the last four digits of the request-URI user:

| ends with | behaviour                                                            |
|-----------|----------------------------------------------------------------------|
| 0001      | answer after ~1 s, play a 1000 Hz tone, stay until the PBX hangs up  |
| 0002      | answer after ~1 s, play the tone, hang up after ``talk_seconds`` (5) |
| 0486      | reject with 486 Busy Here                                            |
| 0408      | ring forever (never answers; the PBX's Dial timeout fires)           |
| 0503      | reject with 503 Service Unavailable                                  |
| 0404      | reject with 404 Not Found (number does not exist)                    |
| 0603      | reject with 603 Decline                                              |
| other     | answer after ~1 s (like 0001)                                        |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CustomerAction = Literal["answer", "reject", "never"]


@dataclass(frozen=True)
class CustomerBehaviour:
    """What the customer line does with one incoming call."""

    action: CustomerAction
    answer_delay: float = 1.0
    reject_code: int = 0
    talk_seconds: float | None = None
    tone_hz: int = 1000


ANSWER = CustomerBehaviour("answer")
ANSWER_THEN_HANGUP = CustomerBehaviour("answer", talk_seconds=5.0)
BUSY = CustomerBehaviour("reject", reject_code=486)
NO_ANSWER = CustomerBehaviour("never")
UNAVAILABLE = CustomerBehaviour("reject", reject_code=503)
NOT_FOUND = CustomerBehaviour("reject", reject_code=404)
DECLINE = CustomerBehaviour("reject", reject_code=603)

PLAN: dict[str, CustomerBehaviour] = {
    "0001": ANSWER,
    "0002": ANSWER_THEN_HANGUP,
    "0486": BUSY,
    "0408": NO_ANSWER,
    "0503": UNAVAILABLE,
    "0404": NOT_FOUND,
    "0603": DECLINE,
}

# Concrete example numbers (E.164) per scenario, e.g. for make run's demo.json.
EXAMPLE_NUMBERS: dict[str, tuple[str, ...]] = {
    "answer": ("+8613800000001", "+12025550001"),
    "answer_then_hangup": ("+8613800000002", "+12025550002"),
    "busy": ("+8613800000486", "+12025550486"),
    "no_answer": ("+8613800000408", "+12025550408"),
    "unavailable": ("+8613800000503", "+12025550503"),
    "not_found": ("+8613800000404", "+12025550404"),
    "decline": ("+8613800000603", "+12025550603"),
}


def behaviour_for(
    number: str, *, talk_seconds: float | None = None, tone_hz: int = 1000
) -> CustomerBehaviour:
    """Behaviour for a dialled number (``+``/non-digits ignored); overrides apply to answering plans."""
    digits = "".join(ch for ch in number if ch.isdigit())
    base = PLAN.get(digits[-4:], ANSWER)
    if base.action != "answer":
        return base
    talk = base.talk_seconds if talk_seconds is None else talk_seconds
    return CustomerBehaviour("answer", answer_delay=base.answer_delay, talk_seconds=talk, tone_hz=tone_hz)
