"""Callbacks on SQLite and PostgreSQL: a disposition's callback_at is scheduled, listed due first inside the
caller's scope, and done when a call of the case connects or is disposed."""

from __future__ import annotations

import pytest

from auth.models import Role
from auth.service import Principal
from core.errors import Forbidden
from db.engine import Database
from tests.unit.presence.harness import ADA, ALICE, BOB, CARL, MIA, SAM, later, make_rig


async def test_a_disposition_s_callback_time_is_scheduled_for_its_agent(db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=0)
    call = await rig.talk()
    await rig.dispose(call.id, outcome="callback_requested", callback_at=later(3600).isoformat())
    [cb] = await rig.callbacks.list(ALICE)
    assert (cb.case_id, cb.agent_id, cb.client_id, cb.team, cb.due_at, cb.state, cb.source_call_id) == (
        "case-1", "alice", "bank-a", "t1", later(3600), "scheduled", call.id)
    assert await rig.event_types("callback.") == ["callback.scheduled"]


async def test_a_connected_call_of_the_case_does_its_callback(db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=0)
    first = await rig.talk()
    await rig.dispose(first.id, outcome="callback_requested", callback_at=later(60).isoformat())
    rig.clock.advance(seconds=60)
    again = await rig.talk()  # the callback, dialled: the customer answers
    assert await rig.callbacks.list(ALICE) == []
    [done] = await rig.callbacks.list(ALICE, state="done")
    assert (done.done_reason, done.done_call_id) == ("connected", again.id)
    assert await rig.event_types("callback.") == ["callback.scheduled", "callback.done"]


async def test_an_unanswered_call_leaves_it_and_its_disposition_does_it_and_may_schedule_the_next(
        db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=0)
    first = await rig.talk()
    await rig.dispose(first.id, outcome="callback_requested", callback_at=later(60).isoformat())
    rig.clock.advance(seconds=60)
    unanswered = await rig.dial()
    await rig.fact(unanswered.id, agent_ringing_at=rig.clock.now(), agent_channel="PJSIP/1001-2")
    await rig.fact(unanswered.id, agent_answered_at=rig.clock.now(), customer_ringing_at=rig.clock.now())
    await rig.fact(unanswered.id, ended_at=rig.clock.now(), dial_status="NOANSWER")
    assert len(await rig.callbacks.list(ALICE)) == 1  # still due: nobody was reached
    await rig.dispose(unanswered.id, outcome="no_answer", callback_at=later(7200).isoformat())
    [next_one] = await rig.callbacks.list(ALICE)
    assert next_one.due_at == later(7200) and next_one.source_call_id == unanswered.id
    [done] = await rig.callbacks.list(ALICE, state="done")
    assert (done.done_reason, done.done_call_id) == ("disposed", unanswered.id)


async def test_lists_are_due_first_and_inside_the_scope(db: Database) -> None:
    rig = await make_rig(db, wrap_up_s=0)
    for who, case, due in ((ALICE, "case-a", 300), (CARL, "case-c", 100), (ALICE, "case-a2", 200),
                           (BOB, "case-b", 50)):
        rig.gate.client_id = "bank-b" if who is BOB else "bank-a"
        call = await rig.talk(who, case_id=case)
        await rig.dispose(call.id, who, outcome="callback_requested", callback_at=later(due).isoformat())

    async def cases(who: Principal, **kw: object) -> list[str | None]:
        return [cb.case_id for cb in await rig.callbacks.list(who, **kw)]

    assert await cases(ALICE) == ["case-a2", "case-a"]
    assert await cases(ALICE, view="team") == ["case-a2", "case-a"]  # an agent's scope: its own only
    assert await cases(SAM, view="team") == ["case-c", "case-a2", "case-a"]
    assert await cases(SAM) == []  # a supervisor owns none
    assert await cases(MIA, view="client") == ["case-c", "case-a2", "case-a"]  # bank-a's (bob's is bank-b's)
    assert await cases(ADA, view="client") == ["case-b", "case-c", "case-a2", "case-a"]
    assert await cases(ADA, view="client", due_before=later(150)) == ["case-b", "case-c"]
    assert await cases(MIA, view="team") == []  # no team, no team's callbacks
    with pytest.raises(Forbidden):
        await rig.callbacks.list(Principal("q", Role.QA, clients=frozenset({"bank-a"})))
