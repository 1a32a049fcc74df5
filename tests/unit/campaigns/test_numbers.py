"""The number to try next: own numbers first, unusable ones never, redial rules by the last outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns.numbers import Attempt, Number, Pick, pick_number

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
BUSY, NO_ANSWER = timedelta(minutes=10), timedelta(hours=1)
MOBILE = Number("+8613800000001", "mobile", True)
HOME = Number("+8613800000002", "home", True)
SPOUSE = Number("+8613900000003", "third_party", True)


def pick(numbers: list[Number], attempts: list[Attempt], now: datetime = T0) -> Pick | None:
    return pick_number(numbers, attempts, now, busy_retry=BUSY, no_answer_retry=NO_ANSWER)


def test_own_numbers_come_before_third_parties_whatever_their_order() -> None:
    assert pick([SPOUSE, HOME, MOBILE], []) == Pick(HOME.number, "home", T0)


def test_unusable_numbers_are_never_tried() -> None:
    assert pick([Number(MOBILE.number, "mobile", False), SPOUSE], []) == Pick(SPOUSE.number, "third_party", T0)
    assert pick([Number(MOBILE.number, "mobile", False)], []) is None


def test_no_answer_moves_to_the_next_number_then_retries_later() -> None:
    tried = [Attempt(MOBILE.number, "customer_no_answer", T0 - timedelta(minutes=1))]
    assert pick([MOBILE, HOME], tried) == Pick(HOME.number, "home", T0)
    both = [*tried, Attempt(HOME.number, "customer_no_answer", T0)]
    assert pick([MOBILE, HOME], both) == Pick(MOBILE.number, "mobile", T0 + NO_ANSWER - timedelta(minutes=1))


def test_busy_is_retried_after_its_own_delay() -> None:
    tried = [Attempt(MOBILE.number, "customer_busy", T0)]
    assert pick([MOBILE], tried) == Pick(MOBILE.number, "mobile", T0 + BUSY)
    assert pick([MOBILE], tried, now=T0 + BUSY + timedelta(seconds=1)) == Pick(
        MOBILE.number, "mobile", T0 + BUSY + timedelta(seconds=1))


def test_an_unreachable_number_is_never_tried_again_and_the_last_outcome_counts() -> None:
    assert pick([MOBILE], [Attempt(MOBILE.number, "customer_unreachable", T0)]) is None
    history = [Attempt(MOBILE.number, "customer_unreachable", T0 - timedelta(days=1)),
               Attempt(MOBILE.number, "customer_busy", T0)]  # reachable again since: the busy counts
    assert pick([MOBILE], history) == Pick(MOBILE.number, "mobile", T0 + BUSY)


def test_calls_that_never_reached_the_customer_s_line_do_not_count() -> None:
    for reason in ("agent_no_answer", "agent_rejected", "cancelled", "failed", None):
        assert pick([MOBILE, HOME], [Attempt(MOBILE.number, reason, T0)]) == Pick(MOBILE.number, "mobile", T0)


def test_a_number_that_reached_the_customer_is_ready_at_once() -> None:
    assert pick([MOBILE], [Attempt(MOBILE.number, "completed", T0 - timedelta(minutes=5))]) == Pick(
        MOBILE.number, "mobile", T0)
