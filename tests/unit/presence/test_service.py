"""Presence on SQLite and PostgreSQL: the PBX's phones, the agent's choices, calls, dispositions, the wrap-up
timer, the dial's check, the walls, history and occupancy, and two instances on one database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from auth.models import Role
from auth.service import Principal
from config.settings import PresenceSettings
from core.errors import Forbidden
from db.engine import Database
from dialer.models import Call
from dialer.translate import DeviceUpdate
from presence.errors import AgentNotAvailable, NoSuchAgent, StateNotSettable, UnknownPauseCode
from presence.models import AgentStateSpan
from presence.service import PresenceService
from presence.states import AgentState
from tests.unit.presence.harness import ADA, ALICE, MIA, SAM, T0, later, make_rig


def registered(user: str, yes: bool, at_s: float = 0) -> DeviceUpdate:
    return DeviceUpdate(user, yes, "NOT_INUSE" if yes else "UNAVAILABLE", later(at_s))


async def test_phone_registration_from_the_pbx_and_the_agent_s_say(db: Database) -> None:
    rig = await make_rig(db)
    assert await rig.presence.apply_device("local", registered("1001", True))
    assert await rig.state() == "available"
    assert not await rig.presence.apply_device("local", registered("1001", True, 1))  # nothing new: no write
    assert not await rig.presence.apply_device("local", registered("9999", False))  # nobody's phone
    rig.clock.advance(seconds=5)
    assert await rig.presence.apply_device("local", registered("1001", False, 5))
    view = await rig.presence.get(ALICE, "alice")
    assert (view.presence.state, view.presence.reason) == (AgentState.OFFLINE, "phone_unregistered")
    rig.clock.advance(seconds=5)
    await rig.presence.apply_device("local", registered("1001", True, 10))
    assert (await rig.presence.get(ALICE, "alice")).presence.reason == "logged_out"  # not available by itself
    view = await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    assert view.presence.state is AgentState.AVAILABLE
    events = await rig.presence_events("alice")
    assert [(e["previous_state"], e["state"], e["reason"]) for e in events] == [
        (None, "available", None), ("available", "offline", "phone_unregistered"),
        ("offline", "offline", "logged_out"), ("offline", "available", None)]
    assert {e["client_id"] for e in events} == {"bank-a"} and {e["team_of_event"] for e in events} == {"t1"}


async def test_an_older_pbx_report_does_not_overwrite_a_newer_one(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.apply_device("local", registered("1001", True, 10))
    assert not await rig.presence.apply_device("local", registered("1001", False, 5))
    assert await rig.state() == "available"


async def test_a_call_moves_the_agent_to_ringing_on_call_and_wrap_up_until_its_disposition(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.apply_device("local", registered("1001", True))
    call = await rig.dial()
    await rig.fact(call.id, agent_ringing_at=rig.clock.now(), agent_channel="PJSIP/1001-1")
    assert await rig.state() == "ringing"
    rig.clock.advance(seconds=1)
    await rig.fact(call.id, agent_answered_at=rig.clock.now())
    assert await rig.state() == "on_call"
    await rig.fact(call.id, customer_ringing_at=rig.clock.now(), answered_at=rig.clock.now())
    rig.clock.advance(seconds=20)
    await rig.fact(call.id, ended_at=rig.clock.now())
    view = await rig.presence.get(SAM, "alice")
    assert view.presence.state is AgentState.WRAP_UP
    assert view.row is not None and view.row.wrap_up_until == rig.clock.now() + timedelta(seconds=30)
    assert view.row.call_id == call.id
    await rig.dispose(call.id, outcome="right_party_contact")
    assert await rig.state() == "available"
    events = await rig.presence_events("alice")
    assert [e["state"] for e in events] == ["available", "ringing", "on_call", "wrap_up", "available"]
    assert [e["call_id"] for e in events[1:4]] == [call.id] * 3 and events[4]["call_id"] is None
    assert [e["changed_by"] for e in events[1:]] == ["call", "call", "call", "disposition"]


async def test_call_states_that_do_not_move_the_agent_write_nothing_to_its_row(db: Database) -> None:
    rig = await make_rig(db)
    call = await rig.dial()
    await rig.fact(call.id, agent_ringing_at=rig.clock.now(), agent_channel="PJSIP/1001-1")
    rig.clock.advance(seconds=1)
    await rig.fact(call.id, agent_answered_at=rig.clock.now())
    on_call_at = rig.clock.now()
    rig.clock.advance(seconds=2)
    await rig.fact(call.id, customer_ringing_at=rig.clock.now())  # the agent stays on the call
    rig.clock.advance(seconds=2)
    await rig.fact(call.id, answered_at=rig.clock.now())
    view = await rig.presence.get(SAM, "alice")
    assert view.presence.state is AgentState.ON_CALL
    assert view.row is not None and (view.row.updated_at, view.row.since) == (on_call_at, on_call_at)
    assert [e["state"] for e in await rig.presence_events("alice")] == ["ringing", "on_call"]
    rig.clock.advance(seconds=10)
    await rig.fact(call.id, ended_at=rig.clock.now())
    view = await rig.presence.get(SAM, "alice")
    assert view.presence.state is AgentState.WRAP_UP and view.row is not None
    assert view.row.updated_at == rig.clock.now()


async def test_wrap_up_ends_by_the_timer_with_the_client_s_own_time(db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=30, wrap_up_by_client={"bank-a": 5})
    await rig.talk()
    assert await rig.state() == "wrap_up"
    rig.clock.advance(seconds=4)
    assert await rig.presence.end_wrap_ups() == 0
    rig.clock.advance(seconds=1)
    assert await rig.presence.end_wrap_ups() == 1
    assert await rig.state() == "available"
    assert await rig.presence.end_wrap_ups() == 0


async def test_a_call_the_agent_never_answered_leaves_it_available(db: Database) -> None:
    rig = await make_rig(db)
    call = await rig.dial()
    await rig.fact(call.id, agent_ringing_at=rig.clock.now(), agent_channel="PJSIP/1001-1")
    rig.clock.advance(seconds=30)
    await rig.fact(call.id, ended_at=rig.clock.now(), agent_cause=19)
    assert await rig.state() == "available"


async def test_no_wrap_up_when_its_time_is_zero(db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=0)
    await rig.talk()
    assert await rig.state() == "available"


async def test_a_paused_or_offline_agent_is_not_dialled_for(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED, "meeting")
    with pytest.raises(AgentNotAvailable) as err:
        await rig.dial()
    assert err.value.status == 409 and err.value.code == "agent-not-available"
    assert err.value.details == {"agent": "alice", "state": "paused", "pause_code": "meeting", "reason": None}
    await rig.presence.set_state(SAM, "alice", AgentState.OFFLINE)
    with pytest.raises(AgentNotAvailable) as err:
        await rig.dial()
    assert err.value.details["reason"] == "logged_out"
    assert rig.pbx.actions == []
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 0  # nothing recorded either
    await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE)
    await rig.dial()
    assert len(rig.pbx.actions) == 1


async def test_an_unregistered_phone_is_not_dialled_but_wrap_up_is(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.apply_device("local", registered("1001", False))
    with pytest.raises(AgentNotAvailable):
        await rig.dial()
    await rig.presence.apply_device("local", registered("1001", True, 1))
    await rig.talk()
    assert await rig.state() == "wrap_up"
    await rig.dial()  # the agent may call again from wrap-up (the click ends its after-call work)


async def test_who_may_set_what(db: Database) -> None:
    rig = await make_rig(db)
    assert (await rig.presence.set_state(SAM, "carl", AgentState.PAUSED, "training")).presence.pause_code == "training"
    with pytest.raises(NoSuchAgent):
        await rig.presence.set_state(ALICE, "carl", AgentState.AVAILABLE)  # another agent: as if missing
    with pytest.raises(NoSuchAgent):
        await rig.presence.set_state(SAM, "bob", AgentState.AVAILABLE)  # another team
    with pytest.raises(Forbidden):
        await rig.presence.set_state(MIA, "alice", AgentState.AVAILABLE)  # managers read, never set
    with pytest.raises(StateNotSettable):
        await rig.presence.set_state(ALICE, "alice", AgentState.ON_CALL)
    with pytest.raises(UnknownPauseCode):
        await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED)
    with pytest.raises(UnknownPauseCode):
        await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED, "lunch")
    with pytest.raises(UnknownPauseCode):
        await rig.presence.set_state(ALICE, "alice", AgentState.AVAILABLE, "break")
    with pytest.raises(NoSuchAgent):
        await rig.presence.set_state(ADA, "sam", AgentState.AVAILABLE)  # not an agent
    assert (await rig.presence.set_state(ADA, "bob", AgentState.PAUSED, "system")).presence.state is AgentState.PAUSED


async def test_who_sees_whom(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.set_state(ADA, "bob", AgentState.PAUSED, "break")

    async def seen(who: Principal, **kw: object) -> list[str]:
        return [v.user.id for v in await rig.presence.agents(who, **kw)]

    assert await seen(ALICE) == ["alice"]
    assert await seen(SAM) == ["alice", "carl"]
    assert await seen(MIA) == ["alice", "carl"]
    assert await seen(ADA) == ["alice", "bob", "carl"]
    assert await seen(ADA, state=AgentState.PAUSED) == ["bob"]
    assert await seen(ADA, team="t1") == ["alice", "carl"]
    with pytest.raises(NoSuchAgent):
        await rig.presence.get(MIA, "bob")
    with pytest.raises(NoSuchAgent):
        await rig.presence.history(ALICE, "carl")
    with pytest.raises(Forbidden):
        await rig.presence.agents(Principal("q", Role.QA, clients=frozenset({"bank-a"})))


async def test_history_and_occupancy(db: Database) -> None:
    rig = await make_rig(db)
    await rig.presence.apply_device("local", registered("1001", True))  # available from T0
    rig.clock.advance(seconds=60)
    call = await rig.talk(seconds=20)  # ringing 1 s, on_call 20 s, then wrap-up from T0 + 81 s
    rig.clock.advance(seconds=9)
    await rig.dispose(call.id, outcome="no_answer")  # wrap-up 9 s, available from T0 + 90 s
    rig.clock.advance(seconds=30)
    await rig.presence.set_state(ALICE, "alice", AgentState.PAUSED, "break")  # paused from T0 + 120 s
    rig.clock.advance(seconds=40)
    await rig.presence.set_state(ALICE, "alice", AgentState.OFFLINE)  # offline from T0 + 160 s
    rig.clock.advance(seconds=40)
    spans = await rig.presence.history(SAM, "alice")
    assert [s.state for s in spans] == ["offline", "paused", "available", "wrap_up", "on_call", "ringing", "available"]
    assert spans[0].ended_at is None and all(s.ended_at is not None for s in spans[1:])
    assert [s.state for s in await rig.presence.history(SAM, "alice", since=later(95), until=later(130))] == [
        "paused", "available"]
    [row] = await rig.presence.occupancy(MIA, since=T0, until=later(3600), team="t1")
    assert row["agent_id"] == "alice"
    assert (row["available_s"], row["ringing_s"], row["on_call_s"], row["wrap_up_s"], row["paused_s"],
            row["offline_s"]) == (90.0, 1.0, 20.0, 9.0, 40.0, 40.0)  # up to now (T0 + 200 s)
    assert row["logged_in_s"] == 160.0 and row["paused_by_code"] == {"break": 40.0}
    assert row["occupancy"] == round(30 / 120, 4)
    [team] = await rig.presence.occupancy(SAM, since=later(60), until=later(90), group_by="team")
    assert (team["team"], team["available_s"], team["on_call_s"], team["wrap_up_s"]) == ("t1", 0.0, 20.0, 9.0)
    [first] = await rig.presence.occupancy(ALICE, since=T0, until=later(10))
    assert (first["agent_id"], first["available_s"], first["logged_in_s"], first["occupancy"]) == ("alice", 10.0,
                                                                                                   10.0, 0.0)
    async with db.read() as s:
        open_spans = await s.scalar(select(func.count()).select_from(AgentStateSpan)
                                    .where(AgentStateSpan.ended_at.is_(None)))
    assert open_spans == 1


async def test_two_instances_on_one_database_record_one_change(db: Database) -> None:
    """Both instances hear the same PBX event: one row, one span, one event."""
    rig = await make_rig(db)
    other = PresenceService(db=db, events=rig.events, clock=rig.clock, settings=PresenceSettings())
    report = registered("1001", True)
    assert await rig.presence.apply_device("local", report)
    assert not await other.apply_device("local", report)
    rig.clock.advance(seconds=1)
    unreg = registered("1001", False, 1)
    assert await other.apply_device("local", unreg)
    assert not await rig.presence.apply_device("local", unreg)
    assert [e["state"] for e in await rig.presence_events("alice")] == ["available", "offline"]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AgentStateSpan)) == 2


async def test_the_wrap_up_sweep_of_two_instances_records_one_change(db: Database) -> None:
    rig = await make_rig(db)
    other = PresenceService(db=db, events=rig.events, clock=rig.clock, settings=PresenceSettings())
    await rig.talk()
    rig.clock.advance(seconds=30)
    assert await rig.presence.end_wrap_ups() == 1
    assert await other.end_wrap_ups() == 0
    assert [e["state"] for e in await rig.presence_events("alice")][-2:] == ["wrap_up", "available"]
