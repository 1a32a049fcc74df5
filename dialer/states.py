"""The call state machine, derived from facts so that the order of PBX events never matters.

Each PBX event contributes a *fact* (the agent's phone rang at t, the customer answered at t, the agent
channel hung up with cause c...). Facts only accumulate: a timestamp is kept as the earliest seen, a
status once set is kept. The state, the end reason, ring and talk seconds are a pure function of the
facts, so two events with equal timestamps arriving in either order give the same call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class CallState(StrEnum):
    """Where a call is; ordered by progress."""

    REQUESTED = "requested"
    AGENT_RINGING = "agent_ringing"
    AGENT_ANSWERED = "agent_answered"
    CUSTOMER_RINGING = "customer_ringing"
    ANSWERED = "answered"
    ENDED = "ended"


STATE_RANK = {s: i for i, s in enumerate(CallState)}


class EndReason(StrEnum):
    """Why a call ended."""

    COMPLETED = "completed"
    CUSTOMER_BUSY = "customer_busy"
    CUSTOMER_NO_ANSWER = "customer_no_answer"
    CUSTOMER_UNREACHABLE = "customer_unreachable"
    AGENT_NO_ANSWER = "agent_no_answer"
    AGENT_REJECTED = "agent_rejected"
    AGENT_UNAVAILABLE = "agent_unavailable"
    CANCELLED = "cancelled"
    FAILED = "failed"


# Asterisk OriginateResponse "Reason" codes (AST_CONTROL_* values) -> why the agent leg failed.
_ORIGINATE_REASON = {
    0: EndReason.AGENT_UNAVAILABLE,  # no channel could be created (endpoint unknown / not registered)
    1: EndReason.AGENT_REJECTED,  # hung up (declined) before answering
    3: EndReason.AGENT_NO_ANSWER,  # ring timeout
    5: EndReason.AGENT_REJECTED,  # busy
    8: EndReason.AGENT_UNAVAILABLE,  # congestion
}
# Q.850 causes seen on the agent leg when it never answered.
_AGENT_CAUSE = {
    17: EndReason.AGENT_REJECTED,  # user busy (486)
    21: EndReason.AGENT_REJECTED,  # call rejected (603)
    18: EndReason.AGENT_NO_ANSWER,  # no user responding
    19: EndReason.AGENT_NO_ANSWER,  # no answer
    3: EndReason.AGENT_UNAVAILABLE,  # no route to destination
    20: EndReason.AGENT_UNAVAILABLE,  # subscriber absent
    27: EndReason.AGENT_UNAVAILABLE,  # destination out of order
    34: EndReason.AGENT_UNAVAILABLE,  # circuit congestion
}
_DIAL_STATUS = {
    "BUSY": EndReason.CUSTOMER_BUSY,
    "NOANSWER": EndReason.CUSTOMER_NO_ANSWER,
    "CHANUNAVAIL": EndReason.CUSTOMER_UNREACHABLE,
    "CONGESTION": EndReason.CUSTOMER_UNREACHABLE,
    "CANCEL": EndReason.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What is known about a call. Every field only ever goes from unknown to known (or earlier)."""

    requested_at: datetime
    originated_at: datetime | None = None
    agent_ringing_at: datetime | None = None
    agent_answered_at: datetime | None = None
    customer_ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    dial_status: str | None = None
    agent_dial_status: str | None = None
    originate_reason: int | None = None
    agent_cause: int | None = None
    agent_cause_text: str | None = None
    customer_cause: int | None = None
    customer_cause_text: str | None = None
    failure: str | None = None
    agent_channel: str | None = None
    customer_channel: str | None = None
    customer_uniqueid: str | None = None
    message_at: datetime | None = None  # inbound: nobody could take the call; the caller was sent to the message
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def merge(self, **new: Any) -> CallFacts:
        """Facts plus ``new``: timestamps keep the earliest, other facts keep the first value seen."""
        changes: dict[str, Any] = {}
        for name, value in new.items():
            if value is None:
                continue
            old = getattr(self, name)
            if old is None or isinstance(old, datetime) and isinstance(value, datetime) and value < old:
                changes[name] = value
        return replace(self, **changes) if changes else self


FACT_NAMES = frozenset(f.name for f in fields(CallFacts)) - {"extra"}


@dataclass(frozen=True, slots=True)
class CallStatus:
    """What the facts mean: state, end reason, cause, ring and talk seconds."""

    state: CallState
    end_reason: EndReason | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    ring_seconds: float | None
    talk_seconds: float | None


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round(max(0.0, (b - a).total_seconds()), 3)


def derive(f: CallFacts) -> CallStatus:
    """The status of a call from its facts (pure, order-independent)."""
    if f.ended_at is not None:
        state = CallState.ENDED
    elif f.answered_at is not None:
        state = CallState.ANSWERED
    elif f.customer_ringing_at is not None:
        state = CallState.CUSTOMER_RINGING
    elif f.agent_answered_at is not None:
        state = CallState.AGENT_ANSWERED
    elif f.agent_ringing_at is not None:
        state = CallState.AGENT_RINGING
    else:
        state = CallState.REQUESTED

    reason = _end_reason(f) if state is CallState.ENDED else None
    cause, cause_text = (f.customer_cause, f.customer_cause_text)
    if f.agent_answered_at is None or cause is None:
        cause, cause_text = f.agent_cause, f.agent_cause_text
    ring_end = f.answered_at or f.ended_at
    ring = _seconds(f.customer_ringing_at, ring_end) if f.customer_ringing_at else None
    talk = _seconds(f.answered_at, f.ended_at) if f.answered_at and reason is EndReason.COMPLETED else None
    if talk is None and f.answered_at and f.ended_at:
        talk = _seconds(f.answered_at, f.ended_at)
    return CallStatus(state, reason, cause, cause_text, ring, talk)


def _end_reason(f: CallFacts) -> EndReason:
    if f.failure is not None:
        return EndReason.FAILED
    if f.answered_at is not None:
        return EndReason.COMPLETED
    if f.dial_status == "NOANSWER" and 1 in (f.customer_cause, f.agent_cause):
        return EndReason.CUSTOMER_UNREACHABLE  # 404: unallocated number shows as NOANSWER + cause 1
    if f.dial_status in _DIAL_STATUS:
        return _DIAL_STATUS[f.dial_status]
    if f.cancel_requested_at is not None:
        return EndReason.CANCELLED
    if f.agent_answered_at is not None:
        # the agent answered but the customer leg produced no result: the agent hung up first (cancelled),
        # or the dial plan gave up waiting for the service's go-ahead (cause 21) or the leg failed
        if f.customer_ringing_at is None and f.agent_cause != 21:
            return EndReason.CANCELLED
        return EndReason.FAILED
    if f.agent_dial_status in ("BUSY", "CONGESTION") and f.agent_cause is None:
        return EndReason.AGENT_REJECTED if f.agent_dial_status == "BUSY" else EndReason.AGENT_UNAVAILABLE
    if f.agent_cause in _AGENT_CAUSE:
        return _AGENT_CAUSE[f.agent_cause]
    if f.originate_reason in _ORIGINATE_REASON:
        return _ORIGINATE_REASON[f.originate_reason]
    # inbound calls (the dial plan's Dial of the agent, docs/PBX.md "Inbound calls")
    if f.agent_dial_status == "NOANSWER":
        return EndReason.AGENT_NO_ANSWER
    if f.agent_dial_status == "CANCEL":
        return EndReason.CANCELLED  # the caller hung up while the agent's phone rang
    if f.message_at is not None:
        return EndReason.AGENT_UNAVAILABLE
    return EndReason.FAILED


def transitions(before: CallStatus, after: CallStatus) -> list[CallState]:
    """The new state reached going from ``before`` to ``after`` (empty when the call did not progress).

    Only the state the facts lead to is reported: ``agent_ringing`` is not invented for a call that
    failed before the agent's phone rang.
    """
    if STATE_RANK[after.state] <= STATE_RANK[before.state]:
        return []
    return [after.state]
