"""Test doubles for the unit tier: a PBX gateway that records actions, a gate that allows everything.

The integration tier uses the real Asterisk; these exist to test HTTP plumbing and domain logic fast.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from dialer.errors import PbxUnavailable
from dialer.gate import DialRequest, GateDecision


class RecordingPbx:
    """Stands in for PbxGateway: records every action; can be told the PBX is down."""

    default = "local"

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.down = False
        self.astdb: dict[str, str] = {}  # what DBGetTree answers
        self.backlog = 0  # PBX events read and not yet applied

    def event_backlog(self) -> int:
        return self.backlog

    async def originate(self, pbx: str, *, call_id: str, sip_user: str, number: str,
                        presented: str | None = None) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("originate", {"pbx": pbx, "call_id": call_id, "sip_user": sip_user, "number": number,
                                           "presented": presented}))

    async def hangup(self, pbx: str, channel: str) -> None:
        self.actions.append(("hangup", {"pbx": pbx, "channel": channel}))

    async def blind_transfer(self, pbx: str, **fields: Any) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("blind_transfer", {"pbx": pbx, **fields}))

    async def attended_transfer(self, pbx: str, **fields: Any) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("attended_transfer", {"pbx": pbx, **fields}))

    async def blind_transfer_out(self, pbx: str, **fields: Any) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("blind_transfer_out", {"pbx": pbx, **fields}))

    async def attended_transfer_out(self, pbx: str, **fields: Any) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("attended_transfer_out", {"pbx": pbx, **fields}))

    async def complete_transfer(self, pbx: str, **fields: Any) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("complete_transfer", {"pbx": pbx, **fields}))

    async def release_customer_leg(self, pbx: str, channel: str) -> None:
        self.actions.append(("release", {"pbx": pbx, "channel": channel}))

    async def live_call_ids(self, pbx: str) -> set[str]:
        return set()

    async def route_inbound(self, pbx: str, channel: str, route: str) -> None:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        self.actions.append(("route", {"pbx": pbx, "channel": channel, "route": route}))

    async def db_tree(self, pbx: str, family: str) -> dict[str, str]:
        if self.down:
            raise PbxUnavailable(pbx, "the PBX is not connected")
        return {k: v for k, v in self.astdb.items() if k.startswith(f"/{family}/")}

    def state(self) -> dict[str, object]:
        return {"local": {"connected": not self.down}}


class AllowAllGate:
    """A gate that allows every dial (for tests whose subject is not compliance); ``client_id`` is the
    client its decisions name (the client the calls then belong to)."""

    def __init__(self, client_id: str | None = None) -> None:
        self.requests: list[DialRequest] = []
        self.client_id = client_id

    async def check(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        self.requests.append(request)
        return GateDecision(allowed=True, decision_id=new_id(), client_id=self.client_id)

    async def check_before_customer(self, session: AsyncSession, *, call_id: str, case_id: str | None,
                                    now: datetime) -> str | None:
        return None
