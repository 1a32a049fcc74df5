"""Webhook retry schedule, signing and dispatcher edge cases that the mutation run found untested."""

import random
from datetime import UTC, datetime

import pytest

from hooks.backoff import next_attempt_at, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_retry_after_as_an_http_date_without_zone_is_read_as_gmt():
    # email.utils gives a naive datetime for "-0000"; RFC 9110 dates are GMT all the same
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:30 -0000", NOW) == 90.0
    assert parse_retry_after("Sun, 01 Mar 2026 14:01:30 +0200", NOW) == 90.0


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="aware"):
        next_attempt_at(1, datetime(2026, 1, 1), retry_after=None, rng=random.Random())  # noqa: DTZ001
    with pytest.raises(ValueError, match="starts at 1"):
        next_attempt_at(0, NOW, retry_after=None, rng=random.Random())
