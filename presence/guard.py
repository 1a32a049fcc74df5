"""The dial's presence check: a dial for a paused or offline agent is refused before the compliance gate.

It wraps the dial gate (``dialer.gate.DialGate``), so the dialer knows nothing of presence: the composition
root puts this in front of the compliance gate. A dry run (``POST /v1/compliance/check``) is not refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.gate import DialGate, DialRequest, GateDecision
from presence.service import PresenceService


class PresenceGate:
    """``inner`` behind the presence check (see the module docstring)."""

    def __init__(self, inner: DialGate, presence: PresenceService) -> None:
        self.inner, self.presence = inner, presence

    async def check(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        """Refuse a dial for an agent who is paused or offline (409 ``agent-not-available``), else ask ``inner``."""
        if not request.dry_run:
            await self.presence.check_dialable(session, request.agent_id)
        return await self.inner.check(session, request)

    async def check_before_customer(self, session: AsyncSession, *, call_id: str, case_id: str | None,
                                    now: datetime) -> str | None:
        """The inner gate's re-check when the agent answers (presence has nothing to add then)."""
        return await self.inner.check_before_customer(session, call_id=call_id, case_id=case_id, now=now)
