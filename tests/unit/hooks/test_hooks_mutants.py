"""Webhook retry schedule, signing and dispatcher edge cases that the mutation run found untested."""

import base64
import random
import re
import time
from datetime import UTC, datetime

import pytest

from hooks import signing
from hooks.backoff import next_attempt_at, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def exactly(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for this whole message and nothing else."""
    return "^" + re.escape(message) + "$"


def test_retry_after_as_an_http_date_without_zone_is_read_as_gmt():
    # email.utils gives a naive datetime for "-0000"; RFC 9110 dates are GMT all the same
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:30 -0000", NOW) == 90.0
    assert parse_retry_after("Sun, 01 Mar 2026 14:01:30 +0200", NOW) == 90.0


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match=exactly("now must be an aware datetime")):
        next_attempt_at(1, datetime(2026, 1, 1), retry_after=None, rng=random.Random())  # noqa: DTZ001
    with pytest.raises(ValueError, match=exactly("attempt_no starts at 1")):
        next_attempt_at(0, NOW, retry_after=None, rng=random.Random())


def test_a_fresh_secret_has_32_bytes_by_default():
    key = signing.parse_secret(signing.generate_secret())
    assert len(key) == 32


def test_verification_failures_name_the_problem():
    secret = signing.generate_secret()
    good = signing.headers([secret], "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(signing.InvalidSignature, match=exactly("missing header webhook-signature")):
        signing.verify(secret, {k: v for k, v in good.items() if k != "webhook-signature"}, b"{}",
                       now=1_700_000_000)
    with pytest.raises(signing.InvalidSignature, match=exactly("webhook-timestamp is not an integer")):
        signing.verify(secret, {**good, "webhook-timestamp": "soon"}, b"{}", now=1_700_000_000)


def test_a_secret_with_characters_outside_base64_is_refused():
    secret = signing.generate_secret()
    with pytest.raises(signing.InvalidSecret, match=exactly("secret is not valid base64")):
        signing.parse_secret(secret + "*")


def test_signing_refuses_what_it_cannot_sign_and_says_why():
    with pytest.raises(signing.InvalidSecret, match=exactly("secret length must be 24-64 bytes")):
        signing.generate_secret(16)
    with pytest.raises(signing.InvalidSecret, match=exactly("at least one secret is needed to sign")):
        signing.headers([], "msg_1", 1_700_000_000, b"{}")
    no_separators = "webhook id must be non-empty without spaces, commas, dots or newlines"
    with pytest.raises(ValueError, match=exactly(no_separators)):
        signing.headers([signing.generate_secret()], "msg.1", 1_700_000_000, b"{}")


def test_any_id_without_separators_is_signed_and_verifies_against_the_clock():
    secret = signing.generate_secret()
    hdrs = signing.headers([secret], "msg_X1", int(time.time()), b"{}")
    assert hdrs["webhook-id"] == "msg_X1"
    signing.verify(secret, hdrs, b"{}")  # now defaults to the current time


def test_secrets_are_refused_with_the_reason():
    with pytest.raises(signing.InvalidSecret, match=exactly("secret must start with 'whsec_'")):
        signing.parse_secret("abc")
    with pytest.raises(signing.InvalidSecret, match=exactly("secret must decode to 24-64 bytes")):
        signing.parse_secret("whsec_" + base64.b64encode(b"short").decode())


def test_any_valid_v1_entry_verifies_and_nothing_else_does():
    secret = signing.generate_secret()
    hdrs = signing.headers([secret], "msg_1", 1_700_000_000, b"{}")
    good = hdrs["webhook-signature"]
    for header in (f"v2,abc {good}", f"v1,!!! {good}", f"v1, {good}"):
        signing.verify(secret, {**hdrs, "webhook-signature": header}, b"{}", now=1_700_000_000)
    for header in (good + "!", "v2," + good.removeprefix("v1,"), good.replace("v1,", "v1;")):
        with pytest.raises(signing.InvalidSignature, match=exactly("no matching v1 signature")):
            signing.verify(secret, {**hdrs, "webhook-signature": header}, b"{}", now=1_700_000_000)
    with pytest.raises(signing.InvalidSignature, match=exactly("webhook-timestamp outside tolerance")):
        signing.verify(secret, hdrs, b"{}", now=1_700_000_000 + 301)
    signing.verify(secret, hdrs, b"{}", now=1_700_000_000 + 300)
