"""Inbound calls on SQLite and PostgreSQL: the call row, the route sent to the PBX, the walls between banks, a
missed call's callback, the PBX down, the same caller announced twice, and the callers logged on recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from callbacks.models import Callback
from cases.models import Case, CaseContact
from config.settings import DialerSettings, PbxSettings
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call, PresentedNumber
from dialer.translate import FactUpdate, InboundOffer
from inbound.service import InboundService
from presence.states import AgentState
from tests.unit.presence.harness import ADA, Rig, make_rig

BANK_A, BANK_B = "+862161230001", "+862161230002"
DEBTOR = "+8613900000101"  # a debtor of both banks


async def _setup(db: Database) -> tuple[Rig, InboundService]:
    rig = await make_rig(db, wrap_up_s=0)
    inbound = InboundService(db=db, events=rig.events, pbx=rig.pbx, clock=rig.clock,
                             settings=DialerSettings(), pbx_settings=[PbxSettings(name="local", ami_host="h",
                                                                                  ami_port=1, ami_user="u",
                                                                                  ami_secret="s")],
                             schedule_callback=rig.callbacks.schedule_missed_call)
    rig.calls.add_state_listener(inbound.on_call_state)
    now = rig.clock.now()
    async with db.begin() as s:
        s.add_all([PresentedNumber(client_id="bank-a", position=0, number=BANK_A, updated_by="ada"),
                   PresentedNumber(client_id="bank-b", position=0, number=BANK_B, updated_by="ada")])
        for cid, client, agent, team in (("a1", "bank-a", "alice", "t1"), ("b1", "bank-b", "bob", "t2")):
            s.add(Case(id=cid, client_id=client, external_id=cid, debtor_name="D", amount=Decimal("10"),
                       currency="CNY", assigned_agent=agent, team=team, fingerprint=cid, created_at=now,
                       updated_at=now))
            s.add(CaseContact(case_id=cid, number=DEBTOR, kind="mobile"))
    return rig, inbound


def _offer(dialled: str, caller: str = DEBTOR, uniqueid: str = "callguard-sandbox-1.0") -> InboundOffer:
    return InboundOffer("PJSIP/customers-00000001", uniqueid, caller, dialled, datetime(2026, 12, 5, 9, tzinfo=UTC))


async def _types(db: Database, call_id: str) -> list[str]:
    async with db.read() as s:
        return list((await s.scalars(select(DomainEventRow.type).where(DomainEventRow.call_id == call_id)
                                     .order_by(DomainEventRow.id))).all())


async def test_a_debtor_calling_bank_a_s_number_is_bank_a_s_case_routed_to_its_agent(db: Database) -> None:
    rig, inbound = await _setup(db)
    call = await inbound.offer("local", _offer(BANK_A))
    assert call is not None
    assert (call.direction, call.client_id, call.case_id, call.agent_id, call.number, call.presented_number,
            call.requested_by, call.state) == ("inbound", "bank-a", "a1", "alice", DEBTOR, BANK_A, "inbound",
                                               "requested")
    assert rig.pbx.actions == [("route", {"pbx": "local", "channel": "PJSIP/customers-00000001",
                                          "route": f"{call.id}:agent:1001:30"})]
    assert await _types(db, call.id) == ["call.inbound_received", "call.inbound_routed"]
    # the same debtor calling bank-b's number is bank-b's (bob's) case
    other = await inbound.offer("local", _offer(BANK_B, uniqueid="callguard-sandbox-2.0"))
    assert other is not None and (other.client_id, other.case_id, other.agent_id) == ("bank-b", "b1", "bob")


async def test_walls_nobody_of_bank_a_available_never_reaches_bank_b_s_agent_and_leaves_one_callback(
        db: Database) -> None:
    rig, inbound = await _setup(db)
    for agent in ("alice", "carl"):
        await rig.presence.set_state(ADA, agent, AgentState.PAUSED, "break")
    call = await inbound.offer("local", _offer(BANK_A))
    assert call is not None and (call.case_id, call.agent_id) == ("a1", "alice")  # bob is available, not bank-a's
    assert rig.pbx.actions[-1][1]["route"] == f"{call.id}:message"
    async with db.read() as s:
        row = await s.get(Call, call.id)
        assert row is not None and row.facts["route_reason"] == "no_agent"
    await rig.calls.apply(FactUpdate(call.id, "Hangup", {"ended_at": rig.clock.now(), "customer_cause": 16}))
    await rig.calls.apply(FactUpdate(call.id, "Hangup", {"agent_cause": 16}))  # a correction: no second callback
    async with db.read() as s:
        ended = await s.get(Call, call.id)
        callbacks = (await s.scalars(select(Callback))).all()
    assert ended is not None and (ended.state, ended.end_reason, ended.answered_at) == (
        "ended", "agent_unavailable", None)
    assert [(cb.agent_id, cb.case_id, cb.client_id, cb.origin, cb.source_call_id) for cb in callbacks] == [
        ("alice", "a1", "bank-a", "inbound", call.id)]


async def test_an_answered_inbound_call_leaves_no_callback(db: Database) -> None:
    rig, inbound = await _setup(db)
    call = await inbound.offer("local", _offer(BANK_A))
    assert call is not None
    now = rig.clock.now()
    await rig.calls.apply(FactUpdate(call.id, "Newstate", {"agent_ringing_at": now, "agent_channel": "PJSIP/1001-1"}))
    await rig.calls.apply(FactUpdate(call.id, "Newstate", {"agent_answered_at": now, "answered_at": now}))
    rig.clock.advance(seconds=30)
    await rig.calls.apply(FactUpdate(call.id, "Hangup", {"ended_at": rig.clock.now()}))
    async with db.read() as s:
        ended = await s.get(Call, call.id)
        assert await s.scalar(select(func.count()).select_from(Callback)) == 0
    assert ended is not None and (ended.end_reason, ended.talk_seconds) == ("completed", 30.0)
    assert [a for a, _ in rig.pbx.actions] == ["route"]  # no go-ahead, no gate: the dial plan's own Dial


async def test_the_same_caller_announced_twice_is_one_call_and_a_pbx_down_still_logs_it(db: Database) -> None:
    rig, inbound = await _setup(db)
    rig.pbx.down = True
    first = await inbound.offer("local", _offer(BANK_A))
    assert first is not None  # logged; the dial plan times out to the message by itself
    rig.pbx.down = False
    assert await inbound.offer("local", _offer(BANK_A)) is None
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 1


async def test_an_unknown_caller_and_a_number_nobody_presents(db: Database) -> None:
    rig, inbound = await _setup(db)
    unknown = await inbound.offer("local", _offer(BANK_A, caller="+8613900000199"))
    assert unknown is not None and (unknown.case_id, unknown.client_id, unknown.agent_id) == (None, "bank-a", "alice")
    stray = await inbound.offer("local", _offer("+862199999999", uniqueid="callguard-sandbox-3.0"))
    assert stray is not None and (stray.case_id, stray.client_id, stray.agent_id) == (None, None, "")
    assert rig.pbx.actions[-1][1]["route"] == f"{stray.id}:message"


async def test_callers_the_dial_plan_sent_to_the_message_are_logged_once_on_recovery(db: Database) -> None:
    rig, inbound = await _setup(db)
    rig.pbx.astdb = {
        "/callguard_inbound/callguard-sandbox-7.0": f"1796470237/{DEBTOR}/{BANK_A}",
        "/callguard_inbound/callguard-sandbox-8.0": f"1796470240/+8613900000199/{BANK_A}",
        "/callguard_inbound/callguard-sandbox-9.0": "1796470240/x;touch/+862161230001",  # not ours: ignored
    }
    assert await inbound.recover("local") == 2
    assert await inbound.recover("local") == 0
    async with db.read() as s:
        calls = {c.customer_uniqueid: c for c in (await s.scalars(select(Call))).all()}
        callbacks = {cb.source_call_id: cb for cb in (await s.scalars(select(Callback))).all()}
    known, unknown = calls["callguard-sandbox-7.0"], calls["callguard-sandbox-8.0"]
    assert (known.state, known.end_reason, known.case_id, known.facts["route_reason"]) == (
        "ended", "agent_unavailable", "a1", "unrouted")
    assert known.ended_at == datetime.fromtimestamp(1796470237, UTC)  # when the PBX kept it
    assert (callbacks[known.id].agent_id, callbacks[known.id].case_id) == ("alice", "a1")
    assert (callbacks[unknown.id].agent_id, callbacks[unknown.id].team, callbacks[unknown.id].number) == (
        None, "t1", "+8613900000199")  # the team's, with the number to call back
    assert rig.pbx.actions == []  # nothing is sent for a caller who is gone
