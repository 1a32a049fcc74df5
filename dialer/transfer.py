"""The transfer state machine, derived from facts so that the order of PBX events never matters.

A transfer is ``requested`` when the service sends it to the PBX; an attended one is ``consulting`` while
the agent talks to the target and the customer hears music on hold; it ends ``completed`` (the target
has the customer), ``cancelled`` (the agent took the customer back) or ``failed`` (the PBX refused it, or
the target did not answer: the customer then rings back to the agent). The first terminal fact wins in
this order: completed, cancelled, failed (they cannot all be true of one transfer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TransferMode(StrEnum):
    """How the customer reaches the target."""

    BLIND = "blind"
    ATTENDED = "attended"


class TransferState(StrEnum):
    """Where a transfer is."""

    REQUESTED = "requested"
    CONSULTING = "consulting"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL = frozenset({TransferState.COMPLETED, TransferState.CANCELLED, TransferState.FAILED})


@dataclass(frozen=True, slots=True)
class TransferFacts:
    """What is known about a transfer (each fact only goes from unknown to known)."""

    requested_at: datetime
    consulting_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    failed_at: datetime | None = None


def derive_transfer(f: TransferFacts) -> TransferState:
    """The state of a transfer from its facts (pure, order-independent)."""
    if f.completed_at is not None:
        return TransferState.COMPLETED
    if f.cancelled_at is not None:
        return TransferState.CANCELLED
    if f.failed_at is not None:
        return TransferState.FAILED
    if f.consulting_at is not None:
        return TransferState.CONSULTING
    return TransferState.REQUESTED


def leg_facts(*, answered_at: datetime | None, ended_at: datetime | None, dial_status: str | None,
              at: datetime, mode: TransferMode = TransferMode.BLIND) -> dict[str, datetime]:
    """The transfer facts a target leg's facts imply.

    Blind: its answer completes the transfer. Attended: its answer starts the consultation (the service
    completes it), and its end after answering without completion means the agent kept the customer
    (cancelled: the agent cancelled, or the target hung up). Either mode: its end without an answer (or a dial
    status other than ANSWER) fails it (the customer goes back to the agent).
    """
    if answered_at is not None:
        if mode is TransferMode.BLIND:
            return {"completed_at": answered_at}
        return {"consulting_at": answered_at, **({"cancelled_at": ended_at} if ended_at is not None else {})}
    if ended_at is not None or (dial_status is not None and dial_status != "ANSWER"):
        return {"failed_at": ended_at or at}
    return {}


def talk_seconds(answered_at: datetime | None, ended_at: datetime | None) -> float | None:
    """A leg's talk time: answered to ended (None until both are known)."""
    if answered_at is None or ended_at is None:
        return None
    return round(max(0.0, (ended_at - answered_at).total_seconds()), 3)
