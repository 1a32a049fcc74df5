"""Pure rules of the recordings feature: storage key naming, retention, retry backoff."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from recordings.audio import AudioFormat, extension_for

_SPOOL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def recording_key(call_id: str, started_at: datetime, fmt: AudioFormat) -> str:
    """Deterministic key ``recordings/<yyyy>/<mm>/<dd>/<call id>.<ext>`` (UTC date the recording began).

    Deterministic so that a re-run of an interrupted ingest writes to the same key, where the store's
    idempotent put recognises the same bytes instead of storing them twice.
    """
    if not is_spool_id(call_id):
        raise ValueError(f"not a usable call id: {call_id!r}")
    if started_at.tzinfo is None:
        raise ValueError("started_at must be aware")
    d = started_at.astimezone(UTC)
    return f"recordings/{d:%Y}/{d:%m}/{d:%d}/{call_id}{extension_for(fmt)}"


def is_spool_id(value: str) -> bool:
    """True for a file-name-safe call id (what Asterisk uses as the spool file stem)."""
    return bool(_SPOOL_ID.match(value)) and ".." not in value


def retention_days(*, default_days: int, floor_days: int, client_days: int | None) -> int:
    """Days to keep a recording: the longest of the default and the client's, never below the floor."""
    return max(default_days, floor_days, client_days or 0)


def retain_until(ended_at: datetime, days: int) -> datetime:
    """End of retention: call end + ``days``."""
    if ended_at.tzinfo is None:
        raise ValueError("ended_at must be aware")
    return ended_at.astimezone(UTC) + timedelta(days=days)


def backoff_s(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Delay before retry number ``attempt`` (1-based): 1, 2, 4, ... capped at ``cap`` seconds."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))
