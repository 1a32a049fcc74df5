"""Preview campaigns on SQLite and PostgreSQL, with the real compliance gate and real cases: the order of
offers, the gate as the filter, claims with leases, skips, and what a call's end does to its case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role
from auth.service import Principal, create_user
from callbacks.service import CallbackService
from campaigns.models import CampaignEntry
from campaigns.service import CampaignService, Mode
from cases.directory import CaseDirectoryAdapter
from cases.dispositions import record_disposition
from cases.holds import apply_hold
from cases.models import Case
from cases.rows import CaseIn
from cases.schemas import DispositionIn
from cases.service import upsert_case
from compliance.service import ComplianceGate
from config.settings import CampaignSettings, ComplianceSettings, DialerSettings, PresenceSettings
from core.clock import FakeClock
from core.errors import CallguardError
from core.events import EventLog
from db.engine import Database
from dialer.service import CallService
from dialer.translate import DeviceUpdate, FactUpdate
from presence.errors import AgentNotAvailable
from presence.guard import PresenceGate
from presence.service import PresenceService
from presence.states import AgentState
from tests.support.doubles import RecordingPbx

MORNING = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
NIGHT = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)  # 22:30 in Asia/Shanghai
ALICE = Principal("alice", Role.AGENT, team="t1", clients=frozenset({"bank1"}))
CARL = Principal("carl", Role.AGENT, team="t1", clients=frozenset({"bank1"}))
SAM = Principal("sam", Role.SUPERVISOR, team="t1", clients=frozenset({"bank1"}))


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    events: EventLog
    campaigns: CampaignService
    calls: CallService
    presence: PresenceService
    cases: dict[str, str]
    pbx: RecordingPbx

    def dialled(self) -> list[str]:
        return [a[1]["number"] for a in self.pbx.actions if a[0] == "originate"]

    async def end_last_call(self, **end: Any) -> None:
        call_id = [a[1]["call_id"] for a in self.pbx.actions if a[0] == "originate"][-1]
        now = self.clock.now()
        await self.calls.apply(FactUpdate(call_id, "t", {"agent_ringing_at": now, "agent_channel": "PJSIP/x-1"}))
        await self.calls.apply(FactUpdate(call_id, "t", {"agent_answered_at": now, "customer_ringing_at": now}))
        await self.calls.apply(FactUpdate(call_id, "t", {**end, "ended_at": now + timedelta(seconds=20)}))

    async def case(self, ext: str, *, agent: str = "alice", days_overdue: int = 30, number: str,
                   received: datetime | None = None, **extra: Any) -> str:
        data = CaseIn.model_validate({
            "external_id": ext, "debtor_name": "张三", "amount": "100.00", "currency": "CNY", "agent": agent,
            "team": "t1", "days_overdue": days_overdue, "timezone": "Asia/Shanghai",
            "received_at": (received or self.clock.now()).isoformat(),
            "contacts": [{"number": number, "kind": "mobile"}], **extra})
        async with self.db.begin() as s:
            result = await upsert_case(s, self.events, client_id="bank1", data=data, now=self.clock.now(), by="t")
        self.cases[ext] = result.case_id
        return result.case_id

    async def campaign(self, *joined: Principal, mode: Mode = "preview") -> str:
        c = await self.campaigns.create(SAM, client_id="bank1", name="December", busy_retry_s=600, mode=mode)
        await self.campaigns.change(SAM, c.id, "start")
        for agent in joined:
            await self.campaigns.join(agent, c.id, agent.user_id)
        return c.id

    async def call(self, who: Principal, case_id: str, number: str, **end: Any) -> str:
        call = await self.calls.request_call(who, agent_id=who.user_id, number=number, case_id=case_id)
        now = self.clock.now()
        await self.calls.apply(FactUpdate(call.id, "t", {"agent_ringing_at": now, "agent_channel": "PJSIP/x-1"}))
        await self.calls.apply(FactUpdate(call.id, "t", {"agent_answered_at": now, "customer_ringing_at": now}))
        await self.calls.apply(FactUpdate(call.id, "t", {**end, "ended_at": now + timedelta(seconds=20)}))
        return call.id


async def make(db: Database, at: datetime = MORNING, *, wrap_up_s: int = 0) -> Rig:
    clock = FakeClock(at)
    events = EventLog()
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile="CN"),
                          dialer=DialerSettings(), clock=clock, cases=CaseDirectoryAdapter())
    presence = PresenceService(db=db, events=events, clock=clock, settings=PresenceSettings(wrap_up_s=wrap_up_s))
    pbx = RecordingPbx()
    calls = CallService(db=db, events=events, pbx=pbx, gate=PresenceGate(gate, presence),
                        settings=DialerSettings(), clock=clock)
    callbacks = CallbackService(db=db, events=events, clock=clock)
    campaigns = CampaignService(db=db, events=events, clock=clock, gate=gate, presence=presence, calls=calls,
                                settings=CampaignSettings())
    for listener in (presence.on_call_state, callbacks.on_call_state, campaigns.on_call_state):
        calls.add_state_listener(listener)
    events.add_outbox_writer(callbacks.on_domain_event)
    presence.add_state_listener(campaigns.on_presence)
    async with db.begin() as s:
        for p, sip in ((ALICE, "1001"), (CARL, "1003")):
            await create_user(s, user_id=p.user_id, role=Role.AGENT, sip_user=sip, team="t1", clients=["bank1"])
        await create_user(s, user_id="sam", role=Role.SUPERVISOR, team="t1", clients=["bank1"])
    return Rig(db, clock, events, campaigns, calls, presence, {}, pbx)


async def test_offers_go_first_call_deadline_first_then_priority_and_each_is_held_under_a_lease(
        db: Database) -> None:
    rig = await make(db)
    low = await rig.case("LOW", days_overdue=10, number="+8613800000011")
    high = await rig.case("HIGH", days_overdue=90, number="+8613800000012")
    old = await rig.case("OLD", days_overdue=5, number="+8613800000013", received=MORNING - timedelta(days=1))
    campaign = await rig.campaign(ALICE)
    first = await rig.campaigns.next(ALICE, "alice")
    assert first is not None and (first.entry.case_id, first.reason, first.number) == (old, "first_call",
                                                                                       "+8613800000013")
    again = await rig.campaigns.next(ALICE, "alice")  # one offer at a time: the same case again
    assert again is not None and (again.entry.id, again.reason, again.number_kind) == (first.entry.id, "held",
                                                                                       "mobile")
    await rig.campaigns.skip(ALICE, "alice", "customer asked for email")
    second = await rig.campaigns.next(ALICE, "alice")
    assert second is not None and second.entry.case_id == high
    await rig.campaigns.skip(ALICE, "alice", "later")
    third = await rig.campaigns.next(ALICE, "alice")
    assert third is not None and third.entry.case_id == low
    await rig.campaigns.skip(ALICE, "alice", "later")
    assert await rig.campaigns.next(ALICE, "alice") is None  # everything skipped waits for the retry
    _c, progress = await rig.campaigns.get(SAM, campaign)
    assert (progress["cases"], progress["left"], progress["attempted"]) == (3, 3, 0)
    assert progress["next_scheduled_at"] == MORNING + timedelta(hours=1)


async def test_the_gate_is_the_filter_a_blocked_case_waits_and_a_held_one_is_never_offered(db: Database) -> None:
    rig = await make(db, at=NIGHT)
    await rig.case("NIGHT", number="+8613800000021")
    held = await rig.case("HELD", number="+8613800000022")
    campaign = await rig.campaign(ALICE)
    async with db.begin() as s:  # a dispute arrives after the campaign selected the case
        case = await s.get(Case, held)
        assert case is not None
        await apply_hold(s, rig.events, case, reason="dispute", source="case_system", by="t", now=rig.clock.now())
    assert await rig.campaigns.next(ALICE, "alice") is None  # 22:30 in Shanghai: nothing is offered
    _c, progress = await rig.campaigns.get(SAM, campaign)
    assert progress["blocked"] == 1  # the dispute: a hard stop
    assert progress["next_scheduled_at"] == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    rig.clock.set(datetime(2026, 12, 6, 0, 0, 1, tzinfo=UTC))
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None and offer.entry.case_id == rig.cases["NIGHT"]
    rig.clock.advance(seconds=1)
    assert await rig.campaigns.next(CARL, "carl") is None  # alice's case is not carl's (and it is held)


async def test_a_call_s_end_reschedules_by_the_number_rules_and_a_connected_one_is_done(db: Database) -> None:
    rig = await make(db)
    case = await rig.case("ONE", number="+8613800000031")
    campaign = await rig.campaign(ALICE)
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None
    await rig.call(ALICE, case, offer.number, dial_status="BUSY")
    assert await rig.campaigns.next(ALICE, "alice") is None  # busy: retried after 10 minutes
    rig.clock.advance(minutes=11)
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None and offer.entry.attempts == 1 and offer.reason == "priority"
    await rig.call(ALICE, case, offer.number, answered_at=rig.clock.now())
    _c, progress = await rig.campaigns.get(SAM, campaign)
    assert (progress["contacted"], progress["attempted"], progress["left"]) == (1, 1, 0)
    assert await rig.campaigns.next(ALICE, "alice") is None


async def test_a_due_callback_comes_first_and_a_paused_agent_gets_nothing(db: Database) -> None:
    rig = await make(db)
    urgent = await rig.case("URGENT", days_overdue=200, number="+8613800000041")
    later_case = await rig.case("CB", days_overdue=1, number="+8613800000042")
    call_id = await rig.call(ALICE, later_case, "+8613800000042", answered_at=rig.clock.now())
    async with db.begin() as s:
        await record_disposition(s, rig.events, principal=ALICE, call_id=call_id, now=rig.clock.now(),
                                 data=DispositionIn.model_validate({
                                     "outcome": "callback_requested",
                                     "callback_at": (rig.clock.now() + timedelta(minutes=30)).isoformat()}))
    await rig.campaign(ALICE)
    first = await rig.campaigns.next(ALICE, "alice")
    assert first is not None and first.entry.case_id == urgent  # the callback is not due yet
    await rig.campaigns.skip(ALICE, "alice", "later")
    rig.clock.advance(minutes=31)
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None and (offer.entry.case_id, offer.reason) == (later_case, "callback")
    assert offer.callback_id is not None
    await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED, "break")
    with pytest.raises(AgentNotAvailable):
        await rig.campaigns.next(ALICE, "alice")


async def test_progressive_dials_each_case_after_the_preview_one_call_at_a_time_and_respects_wrap_up_and_pauses(
        db: Database) -> None:
    rig = await make(db, wrap_up_s=30)
    for i, overdue in enumerate((90, 60, 30)):
        await rig.case(f"P{i}", days_overdue=overdue, number=f"+861380000006{i}")
    await rig.campaign(ALICE, mode="progressive")
    assert await rig.campaigns.tick() == 0  # alice has not said she is available: presence has no row yet
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    assert await rig.campaigns.tick() == 0  # offered: the preview runs for 5 s
    rig.clock.advance(seconds=4)
    assert await rig.campaigns.tick() == 0
    rig.clock.advance(seconds=1)
    assert await rig.campaigns.tick() == 1
    assert rig.dialled() == ["+8613800000060"]
    rig.clock.advance(seconds=10)
    assert await rig.campaigns.tick() == 0  # one call per agent: the first is still on
    await rig.end_last_call(answered_at=rig.clock.now())
    rig.clock.advance(seconds=20)
    assert await rig.campaigns.tick() == 0  # wrap-up: no offer
    await rig.presence.end_wrap_ups()
    rig.clock.advance(seconds=31)
    await rig.presence.end_wrap_ups()
    assert await rig.campaigns.tick() == 0  # available again: offered
    rig.clock.advance(seconds=5)
    assert await rig.campaigns.tick() == 1
    assert rig.dialled() == ["+8613800000060", "+8613800000061"]
    await rig.end_last_call(dial_status="NOANSWER")
    rig.clock.advance(seconds=31)
    await rig.presence.end_wrap_ups()
    await rig.campaigns.tick()  # the third case is offered...
    await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED, "break")  # ...and the agent pauses
    rig.clock.advance(seconds=5)
    assert await rig.campaigns.tick() == 0
    assert rig.dialled() == ["+8613800000060", "+8613800000061"]


async def test_two_instances_ticking_together_dial_an_offer_once(db: Database) -> None:
    rig = await make(db)
    await rig.case("ONE", number="+8613800000071")
    await rig.campaign(ALICE, mode="progressive")
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    other = CampaignService(db=db, events=rig.events, clock=rig.clock, gate=rig.campaigns.gate,
                            presence=rig.presence, calls=rig.calls, settings=CampaignSettings())
    assert list(await asyncio.gather(rig.campaigns.tick(), other.tick())) == [0, 0]
    rig.clock.advance(seconds=5)
    placed = await asyncio.gather(rig.campaigns.tick(), other.tick())
    assert sorted(placed) == [0, 1] and rig.dialled() == ["+8613800000071"]


class _PausedAfterFirstRead:
    """A Database whose write transactions stop after their first ``scalars`` read until ``go`` is set: it holds
    one instance between its "does the agent hold an offer?" read and its claim, as a slow instance would."""

    def __init__(self, db: Database) -> None:
        self._db, self.go, self.paused = db, asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        async with self._db.begin() as s:
            yield _PausingSession(s, self)


class _PausingSession:
    def __init__(self, s: AsyncSession, owner: _PausedAfterFirstRead) -> None:
        self._s, self._owner, self._first = s, owner, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._s.scalars(*args, **kwargs)
        if self._first:
            self._first = False
            self._owner.paused.set()
            await self._owner.go.wait()
        return result


async def test_two_instances_offering_to_one_agent_together_offer_it_one_case(db: Database) -> None:
    """Instance b has read that the agent holds no offer when instance a offers it a case: b must not offer it a
    second one (two offers would become two calls at once for one agent, as in the two-instance PBX test)."""
    rig = await make(db)
    for n in range(3):
        await rig.case(f"C{n}", number=f"+86138000000{90 + n}")
    campaign = await rig.campaign(ALICE, mode="progressive")
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    slow = _PausedAfterFirstRead(db)
    b = CampaignService(db=cast(Database, slow), events=rig.events, clock=rig.clock, gate=rig.campaigns.gate,
                        presence=rig.presence, calls=rig.calls, settings=CampaignSettings())
    second = asyncio.create_task(b.next(ALICE, "alice"))
    await slow.paused.wait()
    first = asyncio.create_task(rig.campaigns.next(ALICE, "alice"))
    await asyncio.wait([first], timeout=1.0)  # done, or waiting for b (which holds the agent)
    slow.go.set()
    offers = [await first, await second]
    assert len({o.entry.id for o in offers if o is not None}) == 1, offers
    assert (await rig.campaigns.get(SAM, campaign))[1]["offered"] == 1


async def test_an_agent_whose_phone_unregisters_gives_its_offer_back(db: Database) -> None:
    rig = await make(db)
    await rig.case("ONE", number="+8613800000081")
    campaign = await rig.campaign(ALICE)
    await rig.presence.apply_device("local", DeviceUpdate("1001", True, "NOT_INUSE", rig.clock.now()))
    assert await rig.campaigns.next(ALICE, "alice") is not None
    assert (await rig.campaigns.get(SAM, campaign))[1]["offered"] == 1
    rig.clock.advance(seconds=1)
    await rig.presence.apply_device("local", DeviceUpdate("1001", False, "UNAVAILABLE", rig.clock.now()))
    assert (await rig.campaigns.get(SAM, campaign))[1]["offered"] == 0
    with pytest.raises(AgentNotAvailable):
        await rig.campaigns.next(ALICE, "alice")
    await rig.presence.apply_device("local", DeviceUpdate("1001", True, "NOT_INUSE", rig.clock.now()))
    with pytest.raises(AgentNotAvailable):  # registered again, but logged out until alice says available
        await rig.campaigns.next(ALICE, "alice")
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None and offer.entry.case_id == rig.cases["ONE"]


async def test_progressive_does_not_dial_an_agent_who_dialled_by_hand_meanwhile(db: Database) -> None:
    rig = await make(db)
    first = await rig.case("ONE", number="+8613800000091", days_overdue=90)
    await rig.case("TWO", number="+8613800000092", days_overdue=10)
    await rig.campaign(ALICE, mode="progressive")
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    await rig.campaigns.tick()  # ONE offered, to be dialled in 5 s
    await rig.calls.request_call(ALICE, agent_id="alice", number="+8613800000091", case_id=first)  # by hand
    rig.clock.advance(seconds=5)
    assert await rig.campaigns.tick() == 0  # alice has a call that has not ended: no second one
    assert rig.dialled() == ["+8613800000091"]
    await rig.end_last_call(dial_status="BUSY")
    rig.clock.advance(seconds=5)
    await rig.campaigns.tick()
    rig.clock.advance(seconds=5)
    assert await rig.campaigns.tick() == 1
    assert rig.dialled() == ["+8613800000091", "+8613800000092"]


async def test_a_dial_whose_instance_stopped_before_placing_it_is_offered_again_after_its_lease(
        db: Database) -> None:
    rig = await make(db)
    case = await rig.case("ONE", number="+8613800000101")
    campaign = await rig.campaign(ALICE)
    offer = await rig.campaigns.next(ALICE, "alice")
    assert offer is not None
    async with db.begin() as s:  # an instance won the dial, then stopped before the Originate
        entry = await s.get(CampaignEntry, offer.entry.id)
        assert entry is not None
        entry.state = "dialling"
    assert await rig.campaigns.next(ALICE, "alice") is not None  # still held: the same entry
    rig.clock.advance(minutes=6)
    again = await rig.campaigns.next(ALICE, "alice")
    assert again is not None and again.entry.case_id == case and again.entry.state == "offered"
    call = await rig.calls.request_call(ALICE, agent_id="alice", number="+8613800000101", case_id=case)
    rig.clock.advance(minutes=6)  # the offer's lease runs out while its call is still on: not offered again
    assert call.state == "requested" and await rig.campaigns.next(ALICE, "alice") is None
    assert (await rig.campaigns.get(SAM, campaign))[1]["offered"] == 0


async def test_a_due_callback_still_passes_the_gate_at_night_it_waits_for_the_morning(db: Database) -> None:
    rig = await make(db, at=NIGHT - timedelta(hours=2))  # 20:30 in Shanghai: inside CN hours
    case = await rig.case("CB", number="+8613800000111")
    call_id = await rig.call(ALICE, case, "+8613800000111", answered_at=rig.clock.now())
    async with db.begin() as s:
        await record_disposition(s, rig.events, principal=ALICE, call_id=call_id, now=rig.clock.now(),
                                 data=DispositionIn.model_validate({
                                     "outcome": "callback_requested", "callback_at": NIGHT.isoformat()}))
    campaign = await rig.campaign(ALICE)
    rig.clock.set(NIGHT)  # 22:30 in Shanghai: the callback is due, the gate says no
    assert await rig.campaigns.next(ALICE, "alice") is None
    assert (await rig.campaigns.get(SAM, campaign))[1]["next_scheduled_at"] == datetime(2026, 12, 6, 0, 0,
                                                                                        tzinfo=UTC)
    with pytest.raises(CallguardError) as blocked:  # and a dial by hand is refused the same way
        await rig.calls.request_call(ALICE, agent_id="alice", number="+8613800000111", case_id=case)
    assert blocked.value.status == 409
