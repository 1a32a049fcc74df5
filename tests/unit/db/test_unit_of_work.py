"""The unit of work publishes its own domain events: after a commit, never after a rollback."""

from __future__ import annotations

import pytest

from core.events import DomainEvent, EventLog
from db.engine import Database

pytestmark = pytest.mark.fake_events  # the unit of work's plumbing, with hand-made events


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


def _log() -> tuple[EventLog, list[str]]:
    events = EventLog()
    woken: list[str] = []
    events.add_commit_listener(lambda: woken.append("woken"))
    return events, woken


async def test_an_event_recorded_in_a_committed_transaction_wakes_the_listeners(db: Database) -> None:
    events, woken = _log()
    async with db.begin() as s:
        await events.record(s, DomainEvent(type="case.updated", payload={"n": 1}))
        await events.record(s, DomainEvent(type="case.updated", payload={"n": 2}))
        assert woken == []  # not before the commit
    assert woken == ["woken"]  # once per transaction, however many events


async def test_a_rolled_back_transaction_publishes_nothing(db: Database) -> None:
    events, woken = _log()
    with pytest.raises(Boom):
        async with db.begin() as s:
            await events.record(s, DomainEvent(type="case.updated", payload={"n": 1}))
            raise Boom
    assert woken == []
    async with db.begin() as s:  # the mark does not leak into the next transaction
        pass
    assert woken == []


async def test_a_transaction_without_events_wakes_nobody(db: Database) -> None:
    _events, woken = _log()
    async with db.begin():
        pass
    assert woken == []
