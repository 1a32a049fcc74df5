"""Due callbacks handed to the team after the client's grace, on SQLite and PostgreSQL: the owner keeps it until
then; after it the team's available agents are offered it first (and may see and dial its case), never an agent
of another team or another bank, and several instances hand each callback over once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import Principal, create_user
from callbacks.service import CallbackService
from cases.dispositions import record_disposition
from cases.errors import NoSuchCase
from cases.schemas import DispositionIn
from cases.service import CaseService
from clients.models import ClientSettings
from core.models import DomainEventRow
from db.engine import Database
from dialer.translate import FactUpdate
from tests.unit.campaigns.test_service import ALICE, CARL, SAM, make

DORA = Principal("dora", Role.AGENT, team="t2", clients=frozenset({"bank1"}))
EVE = Principal("eve", Role.AGENT, team="t1", clients=frozenset({"bank2"}))
NUMBER = "+8613800000051"


async def test_a_callback_not_done_within_the_grace_goes_to_the_team_s_available_agents(db: Database) -> None:
    rig = await make(db)
    async with db.begin() as s:
        s.add(ClientSettings(client_id="bank1", pooling=False, promise_grace_days=3, callback_team_grace_minutes=15,
                             updated_at=rig.clock.now(), updated_by="t"))
        await create_user(s, user_id="dora", role=Role.AGENT, sip_user="1004", team="t2", clients=["bank1"])
        await create_user(s, user_id="eve", role=Role.AGENT, sip_user="1005", team="t1", clients=["bank2"])
    urgent = await rig.case("URGENT", agent="carl", days_overdue=300, number="+8613800000052")
    case_id = await rig.case("CB", number=NUMBER)
    call_id = await rig.call(ALICE, case_id, NUMBER, answered_at=rig.clock.now())
    async with db.begin() as s:
        await record_disposition(s, rig.events, principal=ALICE, call_id=call_id, now=rig.clock.now(),
                                 data=DispositionIn.model_validate({
                                     "outcome": "callback_requested",
                                     "callback_at": (rig.clock.now() + timedelta(minutes=10)).isoformat()}))
    await rig.campaign(CARL, DORA)  # eve serves bank2: she cannot even join bank1's campaign
    callbacks = CallbackService(db=db, events=rig.events, clock=rig.clock)
    [cb] = await callbacks.list(ALICE)
    assert cb.team_due_at == rig.clock.now() + timedelta(minutes=25)

    rig.clock.advance(minutes=24)  # due, but still within the grace: alice's alone
    assert await callbacks.hand_over() == 0
    first = await rig.campaigns.next(CARL, "carl")
    assert first is not None and first.entry.case_id == urgent  # carl's own case, not alice's callback
    await rig.campaigns.skip(CARL, "carl", "later")
    assert await callbacks.list(CARL, view="team") == []
    cases = CaseService(db=db, events=rig.events, clock=rig.clock)
    with pytest.raises(NoSuchCase):
        await cases.get(CARL, case_id)

    rig.clock.advance(minutes=1)
    handed = await asyncio.gather(*(CallbackService(db=db, events=rig.events, clock=rig.clock).hand_over()
                                    for _ in range(3)))
    assert sum(handed) == 1 and await callbacks.hand_over() == 0
    async with db.read() as s:
        types = (await s.scalars(select(DomainEventRow.type).where(
            DomainEventRow.type == "callback.handed_to_team"))).all()
    assert len(types) == 1
    assert (await cases.get(CARL, case_id))[0].id == case_id  # carl may see and work it now
    for other in (DORA, EVE):
        with pytest.raises(NoSuchCase):
            await cases.get(other, case_id)
    [seen] = await callbacks.list(CARL, view="team")
    assert (seen.case_id, seen.agent_id, seen.handed_at) == (case_id, "alice", rig.clock.now())

    offer = await rig.campaigns.next(CARL, "carl")  # the team's due callback comes first
    assert offer is not None and (offer.entry.case_id, offer.reason, offer.callback_id) == (case_id, "callback",
                                                                                          cb.id)
    assert await rig.campaigns.next(DORA, "dora") is None  # another team: never
    # another team, and another bank with the same team name: never
    assert await callbacks.list(DORA, view="team") == [] and await callbacks.list(EVE, view="team") == []
    call = await rig.calls.request_call(CARL, agent_id="carl", number=NUMBER, case_id=case_id)  # the gate lets him
    now = rig.clock.now()
    await rig.calls.apply(FactUpdate(call.id, "t", {"agent_ringing_at": now, "agent_channel": "PJSIP/x-1"}))
    await rig.calls.apply(FactUpdate(call.id, "t", {"agent_answered_at": now, "customer_ringing_at": now}))
    await rig.calls.apply(FactUpdate(call.id, "t", {"answered_at": now}))
    assert await callbacks.list(CARL, view="team") == []  # done: the case is alice's alone again
    [done] = await callbacks.list(SAM, view="team", state="done")
    assert (done.done_reason, done.handed_at) == ("connected", rig.clock.now())


async def test_a_callback_handed_over_only_once_the_grace_after_due_has_passed(db: Database) -> None:
    rig = await make(db)
    case_id = await rig.case("CB2", number=NUMBER)
    call_id = await rig.call(ALICE, case_id, NUMBER, answered_at=rig.clock.now())
    due = rig.clock.now() + timedelta(hours=2)
    async with db.begin() as s:
        await record_disposition(s, rig.events, principal=ALICE, call_id=call_id, now=rig.clock.now(),
                                 data=DispositionIn.model_validate({"outcome": "callback_requested",
                                                                    "callback_at": due.isoformat()}))
    callbacks = CallbackService(db=db, events=rig.events, clock=rig.clock)
    [cb] = await callbacks.list(ALICE)
    assert cb.team_due_at == due + timedelta(minutes=60)  # the default grace
    rig.clock.set(due + timedelta(minutes=59))
    assert await callbacks.hand_over() == 0
    rig.clock.set(due + timedelta(minutes=60))
    assert await callbacks.hand_over() == 1


async def test_campaigns_offer_a_team_s_unassigned_cases_only_where_the_client_pools(db: Database) -> None:
    rig = await make(db)
    async with db.begin() as s:
        await create_user(s, user_id="dora", role=Role.AGENT, sip_user="1004", team="t2", clients=["bank1"])
    pooled = await rig.case("POOL", agent=None, number="+8613800000061")
    await rig.campaign(CARL, DORA)
    assert await rig.campaigns.next(CARL, "carl") is None  # no pooling: nobody's case is nobody's to work
    async with db.begin() as s:
        s.add(ClientSettings(client_id="bank1", pooling=True, promise_grace_days=3, callback_team_grace_minutes=60,
                             updated_at=rig.clock.now(), updated_by="t"))
    assert await rig.campaigns.next(DORA, "dora") is None  # another team's pool: never
    offer = await rig.campaigns.next(CARL, "carl")
    assert offer is not None and offer.entry.case_id == pooled
    rig.clock.advance(minutes=6)  # carl's offer lapsed (a 5-minute lease): it is his team's to take again
    again = await rig.campaigns.next(CARL, "carl")
    assert again is not None and again.entry.case_id == pooled
