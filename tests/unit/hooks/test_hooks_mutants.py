"""Webhook retry schedule, signing and dispatcher edge cases that the mutation run found untested."""

import random
import time
from datetime import UTC, datetime

import pytest

from hooks import signing
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


def test_a_fresh_secret_has_32_bytes_by_default():
    key = signing.parse_secret(signing.generate_secret())
    assert len(key) == 32


def test_verification_failures_name_the_problem():
    secret = signing.generate_secret()
    good = signing.headers([secret], "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(signing.InvalidSignature, match="missing header webhook-signature"):
        signing.verify(secret, {k: v for k, v in good.items() if k != "webhook-signature"}, b"{}",
                       now=1_700_000_000)
    with pytest.raises(signing.InvalidSignature, match="not an integer"):
        signing.verify(secret, {**good, "webhook-timestamp": "soon"}, b"{}", now=1_700_000_000)


def test_a_secret_with_characters_outside_base64_is_refused():
    secret = signing.generate_secret()
    with pytest.raises(signing.InvalidSecret, match="not valid base64"):
        signing.parse_secret(secret + "*")


def test_signing_refuses_what_it_cannot_sign_and_says_why():
    with pytest.raises(signing.InvalidSecret, match="24-64 bytes"):
        signing.generate_secret(16)
    with pytest.raises(signing.InvalidSecret, match="at least one secret"):
        signing.headers([], "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(ValueError, match="without spaces, commas, dots or newlines"):
        signing.headers([signing.generate_secret()], "msg.1", 1_700_000_000, b"{}")


def test_any_id_without_separators_is_signed_and_verifies_against_the_clock():
    secret = signing.generate_secret()
    hdrs = signing.headers([secret], "msg_X1", int(time.time()), b"{}")
    assert hdrs["webhook-id"] == "msg_X1"
    signing.verify(secret, hdrs, b"{}")  # now defaults to the current time
