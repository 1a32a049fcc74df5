"""Domain events of inbound calls (names are the public webhook and live-stream event types).

The call's own states (``call.agent_ringing``, ``call.answered``, ``call.ended``...) are the dialer's; a
missed call's callback is ``callback.scheduled`` (callbacks).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from dialer.events import CallData, call_payload
from dialer.models import Call
from inbound.routing import Route, RouteKind, RouteReason

CALL_INBOUND_RECEIVED = "call.inbound_received"
CALL_INBOUND_ROUTED = "call.inbound_routed"

ALL = (CALL_INBOUND_RECEIVED, CALL_INBOUND_ROUTED)


def received_payload(call: Call) -> dict[str, Any]:
    """A customer called a presented number (ids only: no caller number in events)."""
    return {**call_payload(call), "direction": call.direction, "matched_case": call.case_id is not None}


def routed_payload(call: Call, decision: Route) -> dict[str, Any]:
    """Where the call was sent, and why."""
    return {**call_payload(call), "direction": call.direction, "route": decision.kind.value,
            "reason": decision.reason.value, "routed_agent_id": decision.agent.agent_id if decision.agent else None,
            "callback_agent_id": decision.callback_agent, "callback_team": decision.callback_team}


class InboundReceivedData(CallData):
    """``call.inbound_received``: the call, its direction, whether the caller matched a case."""

    direction: Literal["inbound"]
    matched_case: bool


class InboundRoutedData(CallData):
    """``call.inbound_routed``: the call, where it went and why."""

    direction: Literal["inbound"]
    route: RouteKind
    reason: RouteReason
    routed_agent_id: str | None
    callback_agent_id: str | None
    callback_team: str | None


DATA: dict[str, type[BaseModel]] = {CALL_INBOUND_RECEIVED: InboundReceivedData, CALL_INBOUND_ROUTED: InboundRoutedData}
"""Each inbound event type's data model."""
