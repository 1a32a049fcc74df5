"""The recording state machine (pure): recording -> pending -> stored | failed | empty (-> purged)."""

from __future__ import annotations

from enum import StrEnum

from recordings.errors import InvalidTransition


class RecordingState(StrEnum):
    """Where a recording is."""

    RECORDING = "recording"  # the PBX is writing it (agent answered, call not over)
    PENDING = "pending"  # the call is over: waiting for the marker, or for ingest / a storage retry
    STORED = "stored"  # in the store, read back and verified
    FAILED = "failed"  # could not be ingested (spool files kept for an operator)
    EMPTY = "empty"  # no audio frame at all (the call was never bridged): nothing kept
    PURGED = "purged"  # deleted after its retention expired


TERMINAL = frozenset({RecordingState.STORED, RecordingState.EMPTY, RecordingState.PURGED})
ALLOWED: dict[RecordingState, frozenset[RecordingState]] = {
    RecordingState.RECORDING: frozenset({RecordingState.PENDING}),
    RecordingState.PENDING: frozenset({RecordingState.STORED, RecordingState.FAILED, RecordingState.EMPTY}),
    RecordingState.FAILED: frozenset({RecordingState.PENDING}),  # an operator may retry
    RecordingState.STORED: frozenset({RecordingState.PURGED}),
    RecordingState.EMPTY: frozenset(),
    RecordingState.PURGED: frozenset(),
}


def can_move(current: str, target: RecordingState) -> bool:
    """True when ``current -> target`` is allowed (staying put is always allowed)."""
    cur = RecordingState(current)
    return cur == target or target in ALLOWED[cur]


def advance(current: str, target: RecordingState) -> RecordingState:
    """``target`` if the move is allowed, else ``InvalidTransition``."""
    if not can_move(current, target):
        raise InvalidTransition(f"a {current} recording cannot become {target.value}",
                                details={"from": current, "to": target.value})
    return target
