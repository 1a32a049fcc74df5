"""People's passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile), checked off the event loop.

A hash costs about 0.1 s of CPU and 64 MiB, on purpose: it is computed only at sign-in and when a password
changes, never per request (a session is then a random 256-bit secret, stored as SHA-256 like a token).
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth.errors import WeakPassword

_HASHER = PasswordHasher()
# verified against when the user is unknown or has no password, so that the answer takes as long either way
_DUMMY = _HASHER.hash("callguard-no-such-user")


def check_strength(password: str, min_length: int) -> None:
    """Refuse a password that is too short or one repeated character (422 weak-password)."""
    if len(password) < min_length:
        raise WeakPassword(f"a password has at least {min_length} characters",
                           details={"field": "password", "min_length": min_length})
    if len(set(password)) < 2:
        raise WeakPassword("a password is not one repeated character", details={"field": "password"})


def _hash(password: str) -> str:
    return _HASHER.hash(password)


def _verify(stored: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs a new hash) of ``password`` against ``stored`` (None: compared with a dummy, never matches)."""
    try:
        ok = _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False, False
    return ok, ok and _HASHER.check_needs_rehash(stored or _DUMMY)


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (computed in a worker thread)."""
    return await asyncio.to_thread(_hash, password)


async def verify_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """Whether ``password`` matches ``stored``, and whether the hash should be renewed (in a worker thread)."""
    return await asyncio.to_thread(_verify, stored, password)
