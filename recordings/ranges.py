"""HTTP ``Range: bytes=...`` parsing for audio streaming (pure; RFC 9110 section 14)."""

from __future__ import annotations

from recordings.storage import RangeNotSatisfiable


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """The inclusive (start, end) to serve, or None to serve the whole object with 200.

    Single ranges only (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); a malformed header, another unit
    or several ranges are ignored (200 with the whole body is a valid answer). A syntactically valid
    range outside the object raises ``RangeNotSatisfiable`` (416).
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or (not first and not last):
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or total == 0:
            raise _unsatisfiable(header, total)
        return max(0, total - n), total - 1
    start = int(first)
    end = int(last) if last else total - 1
    if last and end < start:
        return None  # invalid range: ignore
    if start >= total:
        raise _unsatisfiable(header, total)
    return start, min(end, total - 1)


def _unsatisfiable(header: str, total: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"range {header!r} is outside the recording ({total} bytes)",
                               details={"total_size": total})
