"""Storage key validation shared by every backend (path-injection safe)."""

from __future__ import annotations

import re

from recordings.storage.errors import InvalidKey

MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a relative path of safe segments, else raise ``InvalidKey``.

    Rules: 1..512 characters of ``[A-Za-z0-9/_.-]``; no leading/trailing/double ``/``; no segment
    that starts with ``.`` (so no ``.``/``..`` and no hidden names, which backends use internally).
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey("storage key must be 1..512 characters", details={"key": repr(key)[:80]})
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKey("storage key must be relative segments of [A-Za-z0-9_.-] not starting "
                             "with '.'", details={"key": repr(key)[:80]})
    return key
