"""Domain events of inbound calls (names are the public webhook and live-stream event types).

The call's own states (``call.agent_ringing``, ``call.answered``, ``call.ended``...) are the dialer's; a
missed call's callback is ``callback.scheduled`` (callbacks).
"""

from __future__ import annotations

from typing import Any

from dialer.events import call_payload
from dialer.models import Call
from inbound.routing import Route

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
