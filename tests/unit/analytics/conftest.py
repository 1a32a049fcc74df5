"""Fixtures: a migrated database (SQLite and PostgreSQL) with the analytics tables and triggers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from analytics.ddl import install
from db.base import new_id
from db.engine import Database
from dialer.models import Call


@pytest.fixture
async def adb(db: Database) -> AsyncIterator[Database]:
    """The shared ``db`` fixture plus the rollup tables and triggers."""
    await install(db)
    yield db


def make_call(created_at: datetime, *, agent: str = "a1", team: str | None = "t1", client: str | None = "c1",
              batch: str | None = "b1", kind: str | None = "mobile", end_reason: str | None = "completed",
              talk: float | None = None, ring: float | None = None, outcome: str | None = None,
              cause: int | None = None, case_id: str | None = None, direction: str = "outbound") -> Call:
    """A call row as the dialer would leave it."""
    answered = created_at + timedelta(seconds=10) if talk is not None else None
    ended = (answered + timedelta(seconds=talk) if answered and talk is not None
             else created_at + timedelta(seconds=20) if end_reason else None)
    return Call(id=new_id(), agent_id=agent, team=team, requested_by=agent, number="+8613800000001",
                number_kind=kind, case_id=case_id, client_id=client, batch_id=batch, pbx="local", sip_user="1001",
                state="ended" if end_reason else "customer_ringing", end_reason=end_reason, hangup_cause=cause,
                outcome=outcome, created_at=created_at, answered_at=answered, ended_at=ended, ring_seconds=ring,
                talk_seconds=talk, facts={}, direction=direction)


def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the always-null ``blocked`` column (when no decision log exists)."""
    return [{k: v for k, v in r.items() if k != "blocked"} for r in rows]
