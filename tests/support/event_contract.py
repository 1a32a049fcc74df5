"""The event contract, checked on every event the test suite records.

Every payload recorded through ``EventLog.record`` (and every internal session event) must have a model in
the registry (``api.app.event_data``, and ``auth.events.DATA`` for the internal ones) and validate against it
strictly: a type without a model, a missing key, a key the model lacks, a wrong type or a value outside an
enum fails the test that recorded it. Tests that record hand-made events to exercise the plumbing (the
outbox, the unit of work) say so with ``@pytest.mark.fake_events``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from api.app import event_data
from auth import admin as auth_admin
from auth import events as auth_events
from auth import sessions as auth_sessions
from core.events import DomainEvent, EventLog

REGISTRY: dict[str, type[BaseModel]] = {**event_data(), **auth_events.DATA}
"""Every event type the service records, and the model of its data."""


class EventContractBroken(AssertionError):
    """A recorded event has no model, or its data does not validate against its model."""


def check(type_: str, payload: dict[str, Any]) -> None:
    """Raise ``EventContractBroken`` unless ``payload`` (as JSON, as it is stored) is exactly ``type_``'s data."""
    model = REGISTRY.get(type_)
    if model is None:
        raise EventContractBroken(f"event type {type_!r} has no data model (add it to its package's events.DATA)")
    try:
        model.model_validate_json(json.dumps(payload), strict=True)
    except (ValidationError, TypeError) as e:
        raise EventContractBroken(f"{type_} payload {payload!r} does not match {model.__name__}: {e}") from e


Record = Callable[[EventLog, Any, DomainEvent], Awaitable[Any]]
SessionRecord = Callable[..., Awaitable[None]]


def checking_record(record: Record) -> Record:
    """``EventLog.record`` that checks the event first."""

    async def checked(self: EventLog, session: Any, event: DomainEvent) -> Any:
        check(event.type, event.payload)
        return await record(self, session, event)

    return checked


def checking_session_record(record: SessionRecord) -> SessionRecord:
    """``auth.events.record_session_event`` that checks the event first (the payload it will write)."""

    async def checked(session: Any, events: EventLog, type_: str, **kw: Any) -> None:
        payload = {"user_id": kw["user_id"], **({"token_id": kw["token_id"]} if kw.get("token_id") is not None else {})}
        check(type_, payload)
        await record(session, events, type_, **kw)

    return checked


SESSION_RECORDERS = (auth_events, auth_admin, auth_sessions)
"""The modules that call ``record_session_event`` (each imported it by name)."""
