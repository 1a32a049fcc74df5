"""Which number of a case to try next: a pure function of its numbers and its past attempts.

Own numbers (mobile, home, work) come before third parties; a number that is invalid, on the do-not-call
list, removed by the case system or objected to by a third party is never tried. Redial rules by the last
outcome on each number: never tried, ready now; busy, ready ``busy_retry`` after; not answered, ready
``no_answer_retry`` after (so the case's next number is tried first); unreachable, never again. A number
that reached the customer is ready at once (how often it may be called is the gate's caps' say). The number
ready soonest wins (own numbers first among equals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

OWN = ("mobile", "home", "work")
NEVER_AGAIN = frozenset({"customer_unreachable"})
BUSY = frozenset({"customer_busy"})
# only what the customer's line did counts against a number (an agent that did not answer, a cancelled or
# failed call says nothing about it)
COUNTS = frozenset({"customer_busy", "customer_no_answer", "customer_unreachable", "completed"})


@dataclass(frozen=True, slots=True)
class Number:
    """A number of the case as the case system and our dispositions left it."""

    number: str
    kind: str
    usable: bool  # valid status, not removed, no third-party objection


@dataclass(frozen=True, slots=True)
class Attempt:
    """A past call of the case."""

    number: str
    end_reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Pick:
    """The number to try and when it is ready."""

    number: str
    kind: str
    ready_at: datetime


def pick_number(numbers: list[Number], attempts: list[Attempt], now: datetime, *, busy_retry: timedelta,
                no_answer_retry: timedelta) -> Pick | None:
    """The number to try next and from when (None: no number may ever be tried again)."""
    last: dict[str, Attempt] = {}
    for a in sorted(attempts, key=lambda a: a.at):
        if a.end_reason in COUNTS:
            last[a.number] = a
    best: tuple[datetime, int, int, Pick] | None = None
    for order, n in enumerate(numbers):
        if not n.usable:
            continue
        prev = last.get(n.number)
        if prev is None or prev.end_reason == "completed":
            ready = now  # never tried, or it reached the customer (how often is the gate's caps' say)
        elif prev.end_reason in NEVER_AGAIN:
            continue
        elif prev.end_reason in BUSY:
            ready = max(now, prev.at + busy_retry)
        else:
            ready = max(now, prev.at + no_answer_retry)
        key = (ready, 0 if n.kind in OWN else 1, order, Pick(n.number, n.kind, ready))
        if best is None or key[:3] < best[:3]:
            best = key
    return best[3] if best else None
