"""Domain events emitted by the dialer (names are the public webhook and live-stream event types)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from core.events import EventData
from dialer.models import Call
from dialer.states import CallState, EndReason
from dialer.transfer import TransferMode, TransferState

CALL_REQUESTED = "call.requested"
CALL_AGENT_RINGING = "call.agent_ringing"
CALL_AGENT_ANSWERED = "call.agent_answered"
CALL_CUSTOMER_RINGING = "call.customer_ringing"
CALL_ANSWERED = "call.answered"
CALL_ENDED = "call.ended"
CALL_CORRECTED = "call.corrected"
CALL_BLOCKED = "call.blocked"

REACHED: dict[CallState, str] = {
    CallState.REQUESTED: CALL_REQUESTED,
    CallState.AGENT_RINGING: CALL_AGENT_RINGING,
    CallState.AGENT_ANSWERED: CALL_AGENT_ANSWERED,
    CallState.CUSTOMER_RINGING: CALL_CUSTOMER_RINGING,
    CallState.ANSWERED: CALL_ANSWERED,
    CallState.ENDED: CALL_ENDED,
}
"""The event recorded when a call reaches each state."""


def call_payload(call: Call) -> dict[str, Any]:
    """The thin event payload of a call (ids and non-personal fields only)."""
    return {
        "call_id": call.id, "agent_id": call.agent_id, "case_id": call.case_id, "client_id": call.client_id,
        "batch_id": call.batch_id, "state": call.state, "end_reason": call.end_reason,
        "hangup_cause": call.hangup_cause, "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
    }


CALL_TRANSFER_REQUESTED = "call.transfer_requested"
CALL_TRANSFER_CONSULTING = "call.transfer_consulting"
CALL_TRANSFER_COMPLETED = "call.transfer_completed"
CALL_TRANSFER_CANCELLED = "call.transfer_cancelled"
CALL_TRANSFER_FAILED = "call.transfer_failed"
TRANSFER_EVENTS = (CALL_TRANSFER_REQUESTED, CALL_TRANSFER_CONSULTING, CALL_TRANSFER_COMPLETED,
                   CALL_TRANSFER_CANCELLED, CALL_TRANSFER_FAILED)
"""A transfer's steps (``call.transfer_<state>``, dialer/transfer.py), each carrying the call and the transfer."""

ALL = (*REACHED.values(), CALL_CORRECTED, CALL_BLOCKED, *TRANSFER_EVENTS)


class CallData(EventData):
    """A call's state (``call_payload``): every ``call.<state>`` and ``call.corrected``."""

    call_id: str
    agent_id: str = Field(description="The agent's user id (empty for an inbound call routed to no one)")
    case_id: str | None
    client_id: str | None
    batch_id: str | None
    state: CallState
    end_reason: EndReason | None
    hangup_cause: int | None = Field(description="The customer leg's Q.850 cause, once ended")
    ring_seconds: float | None
    talk_seconds: float | None


class CallBlockedData(EventData):
    """The compliance gate refused a dial (``compliance.service``); the decision is in the decision log."""

    decision_id: str
    agent_id: str
    case_id: str | None
    code: str = Field(description="The refusal's error code, e.g. ``outside-calling-hours``")
    rule_ids: list[str]
    next_allowed_at: AwareDatetime | None


class TransferData(EventData):
    """The transfer part of a transfer event (``dialer.transfers.transfer_payload``)."""

    id: str
    seq: int
    mode: TransferMode
    state: TransferState
    from_agent: str
    target: str = Field(description="The target's user id; an outside number (E.164) when target_role is outside")
    target_role: str = Field(description="agent, supervisor, or outside (a transfer to a number)")
    decision_id: str | None = Field(None, description="A transfer to a number: the compliance decision that "
                                                      "allowed the dial")
    failure: str | None
    requested_at: AwareDatetime


class CallTransferData(CallData):
    """A transfer's step: the call and the transfer."""

    transfer: TransferData


DATA: dict[str, type[BaseModel]] = {
    **dict.fromkeys((*REACHED.values(), CALL_CORRECTED), CallData),
    CALL_BLOCKED: CallBlockedData,
    **dict.fromkeys(TRANSFER_EVENTS, CallTransferData),
}
"""Each dialer event type's data model."""
