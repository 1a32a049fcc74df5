"""Standard Webhooks signing: official vector, rotation, tolerance, tampering."""

import base64

import pytest

from hooks import signing
from hooks.signing import InvalidSecret, InvalidSignature

# Published Standard Webhooks / Svix reference vector.
VEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VEC_TS = 1614265330
VEC_BODY = b'{"test": 2432232314}'
VEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_reproduces_the_reference_vector():
    assert signing.sign(VEC_SECRET, VEC_ID, VEC_TS, VEC_BODY) == VEC_SIG


def test_verify_accepts_the_reference_vector_at_its_time():
    hdrs = {"webhook-id": VEC_ID, "webhook-timestamp": str(VEC_TS), "webhook-signature": VEC_SIG}
    signing.verify(VEC_SECRET, hdrs, VEC_BODY, now=VEC_TS + 10)


def test_generate_secret_round_trips_and_has_requested_length():
    for n in (24, 32, 64):
        secret = signing.generate_secret(n)
        assert secret.startswith("whsec_")
        assert len(signing.parse_secret(secret)) == n
    assert signing.generate_secret() != signing.generate_secret()
    with pytest.raises(InvalidSecret):
        signing.generate_secret(16)


@pytest.mark.parametrize("bad", [
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
    "whsec_not base64!",
    "whsec_" + base64.b64encode(b"x" * 23).decode(),  # too short
    "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
])
def test_parse_secret_rejects(bad):
    with pytest.raises(InvalidSecret):
        signing.parse_secret(bad)


def test_headers_sign_once_per_secret_for_rotation():
    old, new = signing.generate_secret(), signing.generate_secret()
    hdrs = signing.headers([old, new], "msg_1", 1_700_000_000, b"{}")
    assert hdrs["webhook-id"] == "msg_1"
    assert hdrs["webhook-timestamp"] == "1700000000"
    assert hdrs["content-type"] == "application/json"
    sigs = hdrs["webhook-signature"].split(" ")
    assert sigs == [signing.sign(old, "msg_1", 1_700_000_000, b"{}"),
                    signing.sign(new, "msg_1", 1_700_000_000, b"{}")]
    # A consumer holding either secret accepts the request.
    signing.verify(old, hdrs, b"{}", now=1_700_000_000)
    signing.verify(new, hdrs, b"{}", now=1_700_000_000)
    with pytest.raises(InvalidSignature):
        signing.verify(signing.generate_secret(), hdrs, b"{}", now=1_700_000_000)


def test_headers_refuse_no_secret_and_bad_id():
    with pytest.raises(InvalidSecret):
        signing.headers([], "msg_1", 1, b"{}")
    with pytest.raises(ValueError):
        signing.headers([VEC_SECRET], "a b", 1, b"{}")


def _vec_headers(**over):
    hdrs = {"webhook-id": VEC_ID, "webhook-timestamp": str(VEC_TS), "webhook-signature": VEC_SIG}
    hdrs.update(over)
    return hdrs


@pytest.mark.parametrize(("hdrs", "body", "now"), [
    (_vec_headers(), b'{"test": 2432232315}', VEC_TS),  # body tampered
    (_vec_headers(**{"webhook-id": "msg_other"}), VEC_BODY, VEC_TS),  # id tampered
    (_vec_headers(**{"webhook-timestamp": str(VEC_TS + 1)}), VEC_BODY, VEC_TS),  # timestamp tampered
    (_vec_headers(), VEC_BODY, VEC_TS + 301),  # too old
    (_vec_headers(), VEC_BODY, VEC_TS - 301),  # too far in the future
    (_vec_headers(**{"webhook-timestamp": "soon"}), VEC_BODY, VEC_TS),
    (_vec_headers(**{"webhook-signature": "v2," + VEC_SIG[3:]}), VEC_BODY, VEC_TS),  # unknown version
    (_vec_headers(**{"webhook-signature": "v1,!!!"}), VEC_BODY, VEC_TS),
    ({"webhook-id": VEC_ID, "webhook-timestamp": str(VEC_TS)}, VEC_BODY, VEC_TS),  # missing signature
])
def test_verify_rejects(hdrs, body, now):
    with pytest.raises(InvalidSignature):
        signing.verify(VEC_SECRET, hdrs, body, now=now)


def test_verify_tolerance_edge_and_case_insensitive_names():
    hdrs = {"Webhook-Id": VEC_ID, "Webhook-Timestamp": str(VEC_TS),
            "Webhook-Signature": "v1,bm9wZQ== " + VEC_SIG}
    signing.verify(VEC_SECRET, hdrs, VEC_BODY, now=VEC_TS + 300)
    signing.verify(VEC_SECRET, hdrs, VEC_BODY, now=VEC_TS + 3600, tolerance=3600)
    with pytest.raises(InvalidSignature):
        signing.verify(VEC_SECRET, hdrs, VEC_BODY, now=VEC_TS + 301)
