"""After an outage: reconcile against the PBX's live channels, end stale calls, a lost Originate's fate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import Principal, create_user
from config.settings import DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database
from dialer.errors import OriginateFateUnknown, PbxUnavailable
from dialer.models import Call
from dialer.service import CallService
from dialer.translate import FactUpdate
from tests.support.doubles import AllowAllGate, RecordingPbx

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
AGENT = Principal(user_id="alice", role=Role.AGENT, team="t1")


class LivePbx(RecordingPbx):
    """A PBX double whose live channels the test sets, and whose Originate may be lost on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[str, set[str]] = {}
        self.listed: list[str] = []
        self.lose_originate = False

    async def originate(self, pbx: str, *, call_id: str, sip_user: str, number: str,
                        presented: str | None = None) -> None:
        await super().originate(pbx, call_id=call_id, sip_user=sip_user, number=number, presented=presented)
        if self.lose_originate:
            raise OriginateFateUnknown("connection lost after the Originate was written")

    async def live_call_ids(self, pbx: str) -> set[str]:
        self.listed.append(pbx)
        return set(self.live.get(pbx, set()))


class Setup:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FakeClock(T0)
        self.pbx = LivePbx()
        self.events = EventLog()
        self.calls = CallService(db=db, events=self.events, pbx=self.pbx, gate=AllowAllGate(),
                                 settings=DialerSettings(stale_call_after_s=120), clock=self.clock)

    async def dial(self) -> str:
        return (await self.calls.request_call(AGENT, agent_id="alice", number="+8613800000001")).id

    async def ringing(self, call_id: str) -> None:
        await self.calls.apply(FactUpdate(call_id, "test", {
            "originated_at": self.clock.now(), "agent_ringing_at": self.clock.now(),
            "agent_channel": f"PJSIP/1001-{call_id[:8]}"}))

    async def event_types(self, call_id: str) -> list[str]:
        async with self.db.read() as s:
            return list((await s.scalars(select(DomainEventRow.type).where(DomainEventRow.call_id == call_id)
                                        .order_by(DomainEventRow.id))).all())

    async def row(self, call_id: str) -> Call:
        async with self.db.read() as s:
            call = (await s.scalars(select(Call).where(Call.id == call_id))).one()
            s.expunge(call)
            return call


@pytest.fixture
async def env(db: Database) -> AsyncIterator[Setup]:
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1")
    yield Setup(db)


async def test_reconcile_ends_calls_the_pbx_no_longer_has_and_keeps_live_ones(env: Setup) -> None:
    gone, live, progressed_gone = await env.dial(), await env.dial(), await env.dial()
    await env.ringing(live)
    await env.ringing(progressed_gone)
    env.clock.advance(seconds=30)
    young = await env.dial()  # requested 1 s before the listing: its channel may not exist yet
    env.clock.advance(seconds=1)
    env.pbx.live = {"local": {live, "some-other-linkedid"}}

    assert await env.calls.reconcile("local") == 2

    assert env.pbx.listed == ["local"]
    for cid in (gone, progressed_gone):
        row = await env.row(cid)
        assert (row.state, row.end_reason, row.failure) == ("ended", "failed", "lost-by-pbx"), cid
        assert row.ended_at == env.clock.now()
        assert (await env.event_types(cid))[-1] == "call.ended"
    assert (await env.row(live)).state == "agent_ringing"
    assert (await env.row(young)).state == "requested"
    # a second pass finds nothing more to end, and the live call is still untouched
    assert await env.calls.reconcile("local") == 0
    assert (await env.row(live)).ended_at is None


async def test_reconcile_only_looks_at_calls_of_that_pbx(env: Setup) -> None:
    cid = await env.dial()
    env.clock.advance(seconds=60)
    assert await env.calls.reconcile("other-pbx") == 0
    assert (await env.row(cid)).state == "requested"
    assert await env.calls.reconcile("local") == 1
    assert (await env.row(cid)).failure == "lost-by-pbx"


async def test_end_stale_ends_only_calls_still_requested_after_the_limit(env: Setup) -> None:
    stale, progressed = await env.dial(), await env.dial()
    await env.ringing(progressed)
    env.clock.advance(seconds=100)
    fresh = await env.dial()
    env.clock.advance(seconds=21)  # stale and progressed are 121 s old, fresh 21 s

    assert await env.calls.end_stale() == 1

    row = await env.row(stale)
    assert (row.state, row.end_reason, row.failure) == ("ended", "failed", "no-pbx-events")
    assert row.ended_at == env.clock.now()
    assert (await env.row(progressed)).state == "agent_ringing"
    assert (await env.row(fresh)).state == "requested"
    env.clock.advance(seconds=100)
    assert await env.calls.end_stale() == 1
    assert (await env.row(fresh)).failure == "no-pbx-events"
    assert (await env.row(progressed)).state == "agent_ringing"


async def test_a_lost_originate_leaves_the_call_to_the_pbx_events(env: Setup) -> None:
    env.pbx.lose_originate = True
    call = await env.calls.request_call(AGENT, agent_id="alice", number="+8613800000001")
    assert env.pbx.actions == [("originate", {"pbx": "local", "call_id": call.id, "sip_user": "1001",
                                              "number": "+8613800000001", "presented": None})]
    row = await env.row(call.id)
    assert (row.state, row.failure, row.ended_at) == ("requested", None, None)  # not failed, not re-sent
    await env.ringing(call.id)  # the Originate did reach the PBX: its events carry the call on
    assert (await env.row(call.id)).state == "agent_ringing"


async def test_a_lost_originate_that_never_reached_the_pbx_ends_as_stale(env: Setup) -> None:
    env.pbx.lose_originate = True
    cid = await env.dial()
    env.clock.advance(seconds=121)
    assert await env.calls.end_stale() == 1
    assert (await env.row(cid)).failure == "no-pbx-events"
    assert len(env.pbx.actions) == 1  # never re-sent


async def test_an_originate_that_certainly_failed_ends_the_call_at_once(env: Setup) -> None:
    env.pbx.down = True
    with pytest.raises(PbxUnavailable):
        await env.dial()
    async with env.db.read() as s:
        rows = (await s.scalars(select(Call))).all()
    assert [(r.state, r.failure) for r in rows] == [("ended", "pbx-unavailable")]
