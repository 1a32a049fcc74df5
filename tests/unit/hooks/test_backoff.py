"""Retry schedule: jitter bounds, Retry-After, dead letter after the last try."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from hooks import backoff
from hooks.backoff import SCHEDULE_SECONDS, next_attempt_at, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_schedule_spans_about_three_days():
    total = backoff.nominal_total_seconds()
    assert 2.5 * 86400 < total < 3.2 * 86400
    assert backoff.MAX_ATTEMPTS == 11
    assert list(SCHEDULE_SECONDS) == sorted(SCHEDULE_SECONDS)


def test_every_step_within_jitter_band_and_none_after_last():
    rng = random.Random(42)
    for n, base in enumerate(SCHEDULE_SECONDS, start=1):
        for _ in range(50):
            at = next_attempt_at(n, NOW, retry_after=None, rng=rng)
            assert at is not None
            delay = (at - NOW).total_seconds()
            assert base * 0.8 <= delay <= base * 1.2
    assert next_attempt_at(len(SCHEDULE_SECONDS) + 1, NOW, retry_after=None, rng=rng) is None
    assert next_attempt_at(99, NOW, retry_after=None, rng=rng) is None


def test_jitter_is_seeded_and_spreads():
    a = [next_attempt_at(3, NOW, retry_after=None, rng=random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(1)
    spread = {next_attempt_at(3, NOW, retry_after=None, rng=rng) for _ in range(20)}
    assert len(spread) == 20


def test_whole_run_ends_in_dead_letter_within_window():
    rng = random.Random(3)
    t = NOW
    attempts = 1
    while (nxt := next_attempt_at(attempts, t, retry_after=None, rng=rng)) is not None:
        assert nxt > t
        t = nxt
        attempts += 1
    assert attempts == backoff.MAX_ATTEMPTS
    total = (t - NOW).total_seconds()
    assert 0.8 * backoff.nominal_total_seconds() <= total <= 1.2 * backoff.nominal_total_seconds()


def test_retry_after_is_a_lower_bound_and_capped():
    rng = random.Random(0)
    # Longer than the 5 s step: honoured.
    assert next_attempt_at(1, NOW, retry_after=120, rng=rng) == NOW + timedelta(seconds=120)
    # Shorter than the 2 h step: the schedule wins.
    at = next_attempt_at(4, NOW, retry_after=1, rng=rng)
    assert at is not None and (at - NOW).total_seconds() >= 7200 * 0.8
    # Absurd values are capped.
    assert next_attempt_at(1, NOW, retry_after=10**9, rng=rng) == NOW + timedelta(
        seconds=backoff.RETRY_AFTER_CAP)
    # Retry-After does not extend the number of attempts.
    assert next_attempt_at(11, NOW, retry_after=60, rng=rng) is None


def test_rejects_naive_now_and_bad_attempt():
    with pytest.raises(ValueError):
        next_attempt_at(1, datetime(2026, 1, 1), retry_after=None, rng=random.Random())  # noqa: DTZ001
    with pytest.raises(ValueError):
        next_attempt_at(0, NOW, retry_after=None, rng=random.Random())


@pytest.mark.parametrize(("raw", "expected"), [
    ("120", 120.0),
    (" 0 ", 0.0),
    ("Sun, 01 Mar 2026 12:01:30 GMT", 90.0),
    ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),  # in the past
    ("-5", None),
    ("soon", None),
    ("", None),
    (None, None),
])
def test_parse_retry_after(raw, expected):
    assert parse_retry_after(raw, NOW) == expected
