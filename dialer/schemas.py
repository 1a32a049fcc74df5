"""Request and response models of the calls API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from core.clock import iso_or_none
from core.pagination import Cursor
from core.schemas import Instant
from dialer.models import Call, CallLeg, CallTransfer
from dialer.states import CallState, EndReason
from dialer.transfer import TransferMode, TransferState

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_NUMBER = r"^\+?[0-9][0-9 ().-]{1,31}$"  # a phone number as people write it (normalised by the service)


class CallRequest(BaseModel):
    """Ask for a click-to-dial call: the agent's phone rings first, then the customer is dialled."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"agent": "alice", "number": "+8613800000001"},
        {"agent": "alice", "number": "138 0000 0001", "case_id": "6f1c2b9e-0c1d-4e7a-9a55-3c2d1e0f9a10"}]})

    agent: str = Field(pattern=_ID, description="The agent (user id) whose phone rings first")
    number: str = Field(min_length=3, max_length=40, description="Customer number; normalised to E.164")
    case_id: str | None = Field(None, max_length=36, pattern=r"^[A-Za-z0-9-]+$")
    override_reason: str | None = Field(
        None, min_length=5, max_length=500,
        description="Supervisor override of a blocking rule, where the policy permits it",
    )


class CallOut(BaseModel):
    """A call and what the PBX told about it."""

    id: str
    agent: str
    team: str | None
    number: str
    case_id: str | None
    client_id: str | None
    batch_id: str | None
    state: CallState
    end_reason: EndReason | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    dial_status: str | None
    failure: str | None
    outcome: str | None
    pbx: str
    requested_by: str
    decision_id: str | None
    presented_number: str | None = Field(
        description="The caller number the customer was shown (the client's presented number); "
                    "null: the PBX default")
    direction: Literal["outbound", "inbound"] = Field(
        description="outbound: dialled by the service; inbound: the customer called a presented number "
                    "(number: the caller, presented_number: the number dialled)")
    created_at: datetime
    originated_at: datetime | None
    agent_ringing_at: datetime | None
    agent_answered_at: datetime | None
    customer_ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    ring_seconds: float | None = Field(description="Customer ring time: dialled to answered or ended")
    talk_seconds: float | None = Field(description="Customer answered to call ended")


class CallList(BaseModel):
    """A page of calls, newest first."""

    items: list[CallOut]
    next_cursor: str | None


class CallQuery(BaseModel):
    """Filters of GET /v1/calls."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = Field(None, pattern=_ID)
    state: CallState | None = None
    case_id: str | None = Field(None, max_length=36)
    direction: Literal["outbound", "inbound"] | None = None
    since: Instant | None = Field(None, alias="from")
    until: Instant | None = Field(None, alias="to")
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=500)


def call_to_json(call: Call) -> dict[str, Any]:
    """The API representation of a call."""
    iso = iso_or_none
    return {
        "id": call.id, "agent": call.agent_id, "team": call.team, "number": call.number,
        "case_id": call.case_id, "client_id": call.client_id, "batch_id": call.batch_id,
        "state": call.state, "end_reason": call.end_reason, "hangup_cause": call.hangup_cause,
        "hangup_cause_text": call.hangup_cause_text, "dial_status": call.dial_status,
        "failure": call.failure, "outcome": call.outcome, "pbx": call.pbx,
        "requested_by": call.requested_by, "decision_id": call.decision_id,
        "presented_number": call.presented_number, "direction": call.direction,
        "created_at": iso(call.created_at), "originated_at": iso(call.originated_at),
        "agent_ringing_at": iso(call.agent_ringing_at), "agent_answered_at": iso(call.agent_answered_at),
        "customer_ringing_at": iso(call.customer_ringing_at), "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at), "ring_seconds": call.ring_seconds, "talk_seconds": call.talk_seconds,
    }


class PresentedNumbersIn(BaseModel):
    """A client's presented numbers, replacing the current list; the first is the primary."""

    model_config = ConfigDict(extra="forbid")

    # the form is documented; the service checks it itself (422 invalid-presented-number, naming the number)
    numbers: list[Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^\+[0-9]{7,15}$"})]] = Field(
        max_length=20,
        description="E.164 numbers ('+' then 7 to 15 digits, valid for their country), primary first. "
                    "An empty list removes them: the client's calls then present the PBX default")


class PresentedNumbersOut(BaseModel):
    """The caller numbers a client's calls present to its customers."""

    client_id: str
    numbers: list[str]
    primary: str | None = Field(description="What the client's calls present; null: the PBX default")
    updated_at: datetime
    updated_by: str


class TransferRequest(BaseModel):
    """Hand the customer of a live call to another agent or a supervisor (``target``, a user id), or to an
    outside number (``number``): exactly one of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"target": "pete", "mode": "blind"}, {"number": "+8613800000101", "mode": "blind"}], "oneOf": [
        {"required": ["target"], "properties": {"target": {"type": "string"}, "number": {"type": "null"}}},
        {"required": ["number"], "properties": {"number": {"type": "string"}, "target": {"type": "null"}}},
    ]})

    target: str | None = Field(None, pattern=_ID, description="The agent or supervisor (user id) who takes the "
                               "customer, within the call's client (and team, for an agent), and available")
    number: str | None = Field(None, min_length=3, max_length=32, pattern=_NUMBER, description=(
        "An outside number that takes the customer (a dial: normalised to E.164, it passes the compliance gate "
        "for the call's case as a dial by whoever transfers would; a call without a case cannot be transferred "
        "to a number). Blocked: 409 with the gate's code and explanation, as POST /v1/calls answers"))
    mode: TransferMode = Field(TransferMode.BLIND, description="blind: the customer goes straight to the target; "
                               "attended: the customer hears music on hold while the agent consults the target, "
                               "then POST .../transfer/complete or .../transfer/cancel. If the target does not "
                               "answer, the customer goes back to the agent")

    @model_validator(mode="after")
    def _one_target(self) -> TransferRequest:
        if (self.target is None) == (self.number is None):
            raise ValueError("name exactly one of target (a user) or number (an outside number)")
        return self


class TransferOut(BaseModel):
    """A transfer of a call and where it is (requested, consulting, completed, cancelled or failed)."""

    id: str
    call_id: str
    seq: int = Field(description="1 for the call's first transfer, 2 for the next...")
    mode: TransferMode
    state: TransferState
    from_agent: str = Field(description="Who had the customer when the transfer was asked")
    target: str
    requested_by: str
    target_role: str = Field(description="agent or supervisor; outside: ``target`` is an outside number (E.164)")
    decision_id: str | None = Field(description="A transfer to a number: the compliance decision that allowed it")
    failure: str | None = Field(description="Why it failed: pbx-unavailable, target-not-answered")
    dial_status: str | None = Field(description="The PBX's dial status of the target")
    requested_at: datetime
    consulting_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    failed_at: datetime | None


class LegOut(BaseModel):
    """Who talked to the customer of a call, from when to when."""

    id: str
    seq: int
    role: str = Field(description="agent: the call's own agent; target: a transfer's target; back: the agent "
                                  "the customer rang back to when the target did not answer; outside: an "
                                  "outside number the customer was transferred to (its talk is no agent's)")
    user: str | None = Field(description="Who talked; null for an outside party")
    number: str | None = Field(description="An outside party's number (E.164); null for a person")
    transfer_id: str | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    cause: int | None
    talk_seconds: float | None = Field(description="Answered to ended: this person's talk time with the customer")


class LegsOut(BaseModel):
    """A call's legs and transfers, in order."""

    call_id: str
    legs: list[LegOut]
    transfers: list[TransferOut]


def transfer_to_json(t: CallTransfer) -> dict[str, Any]:
    """The API representation of a transfer."""
    iso = iso_or_none
    return {"id": t.id, "call_id": t.call_id, "seq": t.seq, "mode": t.mode, "state": t.state,
            "from_agent": t.from_agent, "target": t.target_id, "target_role": t.target_role,
            "decision_id": t.decision_id, "requested_by": t.requested_by, "failure": t.failure,
            "dial_status": t.dial_status,
            "requested_at": iso(t.requested_at), "consulting_at": iso(t.consulting_at),
            "completed_at": iso(t.completed_at), "cancelled_at": iso(t.cancelled_at), "failed_at": iso(t.failed_at)}


def legs_to_json(call_id: str, legs: list[CallLeg], transfers: list[CallTransfer]) -> dict[str, Any]:
    """The API representation of a call's legs and transfers."""
    iso = iso_or_none
    return {"call_id": call_id, "transfers": [transfer_to_json(t) for t in transfers], "legs": [
        {"id": leg.id, "seq": leg.seq, "role": leg.role, "user": leg.user_id, "number": leg.number,
         "transfer_id": leg.transfer_id,
         "ringing_at": iso(leg.ringing_at), "answered_at": iso(leg.answered_at), "ended_at": iso(leg.ended_at),
         "cause": leg.cause, "talk_seconds": leg.talk_seconds} for leg in legs]}
