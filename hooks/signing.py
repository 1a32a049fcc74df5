"""Standard Webhooks v1 signing and verification (pure, no I/O).

Sender side: :func:`headers` builds the three ``webhook-*`` headers for one attempt.

Consumer recipe (what the case-management system must do on every request):

1. Read the raw request body as bytes (do not re-serialise parsed JSON).
2. Take ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.
3. Refuse the request when the timestamp is more than 5 minutes from your clock (replay protection).
4. Compute ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body))`` where ``key`` is the
   base64-decoded part of the ``whsec_...`` secret after the prefix.
5. Accept if any space-separated ``v1,<sig>`` entry equals it, compared in constant time
   (several entries appear while a secret is being rotated).
6. Deduplicate on ``webhook-id``: retries re-use it with a fresh timestamp and signature.

:func:`verify` implements exactly this and raises :class:`InvalidSignature` otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE = 300


class InvalidSignature(Exception):
    """The webhook headers or signature do not verify."""


class InvalidSecret(ValueError):
    """A secret string is not ``whsec_`` + base64 of 24-64 bytes."""


def generate_secret(nbytes: int = 32) -> str:
    """Return a fresh ``whsec_<base64>`` secret of ``nbytes`` random bytes (24-64)."""
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"secret length must be {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes")
    return PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """Validate a ``whsec_`` secret and return the raw HMAC key."""
    if not secret.startswith(PREFIX):
        raise InvalidSecret("secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("secret is not valid base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"secret must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return ``v1,<base64 signature>`` of ``id.timestamp.body`` with one secret."""
    digest = _digest(parse_secret(secret), msg_id, timestamp, body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the request headers of one delivery attempt, one signature per active secret."""
    if not secrets:
        raise InvalidSecret("at least one secret is needed to sign")
    if not msg_id or any(c in msg_id for c in " ,.\r\n"):
        raise ValueError("webhook id must be non-empty without spaces, commas, dots or newlines")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }


def _header(hdrs: Mapping[str, str], name: str) -> str:
    value = hdrs.get(name)
    if value is None:
        # Plain dicts are case-sensitive; HTTP header names are not.
        lowered = {k.lower(): v for k, v in hdrs.items()}
        value = lowered.get(name)
    if not value:
        raise InvalidSignature(f"missing header {name}")
    return value


def verify(secret: str, hdrs: Mapping[str, str], body: bytes, *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> None:
    """Check id, timestamp tolerance and signature; raise :class:`InvalidSignature` if any fails."""
    msg_id = _header(hdrs, "webhook-id")
    raw_ts = _header(hdrs, "webhook-timestamp")
    sig_header = _header(hdrs, "webhook-signature")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise InvalidSignature("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp outside tolerance")
    expected = _digest(parse_secret(secret), msg_id, timestamp, body)
    matched = False
    for entry in sig_header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Keep looping after a match so timing does not reveal which entry matched.
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise InvalidSignature("no matching v1 signature")
