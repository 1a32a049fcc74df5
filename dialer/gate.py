"""The seam between dialing and compliance: every dial passes a gate inside the dial's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from auth.service import Principal
from core.errors import CallguardError


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One dial about to be attempted."""

    call_id: str
    agent_id: str
    team: str | None
    number: str
    case_id: str | None
    principal: Principal
    now: datetime
    override_reason: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's answer; when blocked, ``error`` is the 409 to return (the decision is logged anyway)."""

    allowed: bool
    decision_id: str
    error: CallguardError | None = None
    client_id: str | None = None
    batch_id: str | None = None
    debtor_key: str | None = None
    number_kind: str | None = None
    #: the case the call belongs to: the one named, or the one case holding a number dialled without one
    case_id: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


class DialGate(Protocol):
    """Decides whether a dial may proceed and logs the decision, in the caller's transaction."""

    async def check(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        """Decide before the Originate (hours, caps, holds, do-not-call...)."""
        ...

    async def check_before_customer(self, session: AsyncSession, *, call_id: str, case_id: str | None,
                                    now: datetime) -> str | None:
        """Re-check holds when the agent answers, just before the customer is dialled.

        Returns None to proceed, or a block code (``case-on-hold``, ``case-closed``...) to stop the customer leg.
        """
        ...
