"""Consecutive PBX events of one call merged in one transaction (``CallService.apply_all``) give exactly what
applying them one by one gives: the row, the domain events in order, the listeners' calls and the PBX actions;
and a failing event loses only its own facts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.service import Principal, create_user
from config.settings import DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database, after_commit
from dialer.ami import AmiParser
from dialer.models import Call
from dialer.service import CallService
from dialer.states import CallState
from dialer.translate import FactUpdate, translate
from tests.support.doubles import AllowAllGate, RecordingPbx

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
AGENT = Principal(user_id="alice", role=Role.AGENT, team="t1")
TRACE = Path(__file__).resolve().parents[2] / "fixtures" / "ami" / "answered_call.trace"
TRACE_CALL_ID = "f902d664-5e4d-480c-b053-101ded671ff5"
#: what a call row says once its events are merged (ids and request times aside)
COLUMNS = ("state", "end_reason", "hangup_cause", "hangup_cause_text", "ring_seconds", "talk_seconds",
           "originated_at", "agent_ringing_at", "agent_answered_at", "customer_ringing_at", "answered_at",
           "ended_at", "dial_status", "failure", "agent_channel", "customer_channel", "customer_uniqueid", "facts")


def trace_updates(call_id: str) -> list[FactUpdate]:
    """The fact updates of the recorded answered call (Asterisk 22), as if it were ``call_id``."""
    raw = TRACE.read_bytes().replace(TRACE_CALL_ID.encode(), call_id.encode())
    return [u for m in AmiParser().feed(raw) if (u := translate(m, T0)) is not None]


class Setup:
    def __init__(self, db: Database, *, failing: CallState | None = None) -> None:
        self.db = db
        self.pbx = RecordingPbx()
        self.calls = CallService(db=db, events=EventLog(), pbx=self.pbx, gate=AllowAllGate(),
                                 settings=DialerSettings(), clock=FakeClock(T0))
        self.heard: list[tuple[str, str]] = []
        self.failing = failing

        async def listener(session: AsyncSession, call: Call, state: CallState) -> None:
            if state is self.failing:
                raise RuntimeError("a listener's bug")
            heard = (state.value, call.state)
            # a listener's effects are the transaction's: noted once it commits (not by a rolled-back attempt)
            after_commit(session, object(), lambda: self.heard.append(heard))

        self.calls.add_state_listener(listener)

    async def dial(self) -> str:
        return (await self.calls.request_call(AGENT, agent_id="alice", number="+8613800000001")).id

    async def outcome(self, call_id: str) -> dict[str, Any]:
        async with self.db.read() as s:
            call = (await s.scalars(select(Call).where(Call.id == call_id))).one()
            types = (await s.scalars(select(DomainEventRow.type).where(DomainEventRow.call_id == call_id)
                                     .order_by(DomainEventRow.id))).all()
            row = {k: getattr(call, k) for k in COLUMNS}
        actions = [(a, {k: v for k, v in f.items() if k != "call_id"}) for a, f in self.pbx.actions
                   if a != "originate"]
        return {"row": row, "events": list(types), "heard": list(self.heard), "actions": actions}


@pytest.fixture
async def users(db: Database) -> AsyncIterator[Database]:
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1")
    yield db


@pytest.mark.parametrize("failing", [None, CallState.ANSWERED])
async def test_merged_together_or_one_by_one_the_call_comes_out_the_same(users: Database,
                                                                         failing: CallState | None) -> None:
    alone, together = Setup(users, failing=failing), Setup(users, failing=failing)
    a, b = await alone.dial(), await together.dial()
    for update in trace_updates(a):
        try:
            await alone.calls.apply(update)
        except RuntimeError:
            pass  # the AMI dispatcher logs a listener's failure and goes on
    ups = trace_updates(b)
    assert len(ups) > 5 and {u.call_id for u in ups} == {b}
    await together.calls.apply_all(ups)

    got, want = await together.outcome(b), await alone.outcome(a)
    assert got == want
    assert want["events"][-1] == "call.ended" and want["row"]["state"] == "ended"
    assert want["actions"] == [("release", {"pbx": "local", "channel": "PJSIP/1001-00000000"})]
    if failing is None:
        assert want["events"] == ["call.requested", "call.agent_ringing", "call.agent_answered",
                                  "call.customer_ringing", "call.answered", "call.ended"]
        assert want["row"]["end_reason"] == "completed"
    else:  # the answer's event failed, applied alone or not: its facts are lost, the others' kept
        assert "call.answered" not in want["events"]


async def test_apply_all_takes_one_call_only(users: Database) -> None:
    env = Setup(users)
    a, b = await env.dial(), await env.dial()
    with pytest.raises(ValueError, match="one call"):
        await env.calls.apply_all([trace_updates(a)[0], trace_updates(b)[0]])
