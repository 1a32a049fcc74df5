"""Typed domain events and the event log that records them inside a unit of work.

Recording an event marks the session; ``Database.begin`` publishes (wakes the listeners) after a
successful commit, and a rolled-back transaction publishes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import DomainEventRow
from db.base import new_id, utcnow
from db.engine import after_commit

OutboxWriter = Callable[[AsyncSession, DomainEventRow], Awaitable[None]]


def _open(schema: dict[str, Any]) -> None:
    schema.pop("additionalProperties", None)


class EventData(BaseModel):
    """The data (payload) of one domain event type: exactly the keys its emitter writes, no others.

    Each feature's ``events.py`` maps its event types to these models (``DATA``); the OpenAPI document
    describes the live stream and the webhooks with them, and the test suite checks every recorded payload
    against its type's model.
    """

    # strict when validated; its JSON schema stays open so the documents that wrap it (a webhook's data adds
    # ``event_id``) can extend it, closing it themselves with ``unevaluatedProperties: false``
    model_config = ConfigDict(extra="forbid", json_schema_extra=_open)


Amount = Annotated[str, Field(pattern=r"^-?[0-9]+(?:\.[0-9]+)?$", description="A decimal string, e.g. \"1234.56\"")]
"""An amount in an event's data: a decimal string (a JSON number would be a binary float)."""


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something that happened, named in the past tense (``call.answered``), with a stable thin payload.

    ``client_id`` and ``team`` say whose it is: the live stream and the webhooks show an event only to
    those who may see that client (and team); an event of no client is the platform's.
    """

    type: str
    payload: dict[str, Any]
    call_id: str | None = None
    case_id: str | None = None
    agent_id: str | None = None
    client_id: str | None = None
    team: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)
    event_id: str = field(default_factory=new_id)


def event_to_json(row: DomainEventRow) -> dict[str, Any]:
    """The public JSON form of a recorded event (live stream and webhooks use the same shape)."""
    return {
        "id": row.event_id,
        "seq": row.id,
        "type": row.type,
        "occurred_at": row.occurred_at.isoformat(),
        "call_id": row.call_id,
        "case_id": row.case_id,
        "agent_id": row.agent_id,
        "client_id": row.client_id,
        "team": row.team,
        "data": row.payload,
    }


class EventLog:
    """Appends domain events to the log in the caller's transaction and lets the outbox fan them out."""

    def __init__(self) -> None:
        self._writers: list[OutboxWriter] = []
        self._listeners: list[Callable[[], None]] = []

    def add_outbox_writer(self, writer: OutboxWriter) -> None:
        """Register a writer called, in the same transaction, for every recorded event."""
        self._writers.append(writer)

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Register a cheap callback told that new events may have been committed (wakes the tailers)."""
        self._listeners.append(listener)

    async def record(self, session: AsyncSession, event: DomainEvent) -> DomainEventRow:
        """Append ``event`` in the session's transaction."""
        row = DomainEventRow(
            event_id=event.event_id, type=event.type, occurred_at=event.occurred_at, call_id=event.call_id,
            case_id=event.case_id, agent_id=event.agent_id, client_id=event.client_id, team=event.team,
            payload=event.payload,
        )
        session.add(row)
        await session.flush()
        for writer in self._writers:
            await writer(session, row)
        after_commit(session, self, self.committed)
        return row

    def committed(self) -> None:
        """Tell listeners that a transaction with events has committed (called by ``Database.begin``)."""
        for listener in self._listeners:
            listener()
