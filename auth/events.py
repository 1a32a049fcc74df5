"""Session events: a user deactivated or changed, a token revoked.

They go to the domain event log (which every instance's live stream tails), so open event streams of
that user or token end within a poll interval on every instance. They are internal: written without the
outbox writers, so no webhook subscription (not even ``*``) ever receives them, and the live stream
never forwards them to a client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventData, EventLog
from core.models import DomainEventRow
from db.base import new_id
from db.engine import after_commit

if TYPE_CHECKING:
    from datetime import datetime

    from auth.service import Principal

USER_DEACTIVATED = "user.deactivated"
USER_CHANGED = "user.changed"  # role, clients or team: the open streams end so the client re-authenticates
TOKEN_REVOKED = "token.revoked"
SESSION_EVENTS = frozenset({USER_DEACTIVATED, USER_CHANGED, TOKEN_REVOKED})


class UserEventData(EventData):
    """``user.deactivated`` / ``user.changed`` (internal: never on the stream or a webhook)."""

    user_id: str


class TokenRevokedData(EventData):
    """``token.revoked`` (internal)."""

    user_id: str
    token_id: str


DATA: dict[str, type[BaseModel]] = {USER_DEACTIVATED: UserEventData, USER_CHANGED: UserEventData,
                                    TOKEN_REVOKED: TokenRevokedData}
"""Each session event type's data model (internal events: not in the OpenAPI document)."""


async def record_session_event(session: AsyncSession, events: EventLog, type_: str, *, at: datetime,
                               user_id: str, token_id: str | None = None) -> None:
    """Append a session event in the caller's transaction (no outbox: internal only); the unit of work
    wakes the event log's tailers once it commits."""
    payload: dict[str, Any] = {"user_id": user_id}
    if token_id is not None:
        payload["token_id"] = token_id
    session.add(DomainEventRow(event_id=new_id(), type=type_, occurred_at=at, agent_id=None, payload=payload))
    await session.flush()
    after_commit(session, events, events.committed)


def ends_session(who: Principal, event: dict[str, Any]) -> bool:
    """True when ``event`` (the live stream's JSON form) invalidates ``who``'s open stream."""
    data = event.get("data") or {}
    if event["type"] in (USER_DEACTIVATED, USER_CHANGED):
        return bool(data.get("user_id") == who.user_id)
    if event["type"] == TOKEN_REVOKED:
        return who.token_id is not None and data.get("token_id") == who.token_id
    return False
