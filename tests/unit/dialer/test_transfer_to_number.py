"""A transfer to an outside number is a dial: the real compliance gate and case directory decide it for the call's
case, as a dial by whoever transfers, on SQLite and PostgreSQL. Each decision is in the decision log; a blocked
one answers like a blocked dial and changes nothing else (no transfer, no leg, nothing sent to the PBX); an
allowed one reaches the PBX as an E.164 number with the client's presented number. (The PBX side:
tests/unit/dialer/test_transfer_pbx.py; the real PBX: tests/integration/dialer/test_transfer_to_number.py.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from auth.models import Role
from auth.service import OPERATOR, Principal, create_user
from cases.directory import CaseDirectoryAdapter
from cases.models import Case
from cases.rows import CaseIn
from cases.service import CaseService
from compliance.errors import CallBlockedError, NoSuchCase
from compliance.models import EVERY_CLIENT, ComplianceDecision, DoNotCall
from compliance.service import ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.errors import Forbidden
from core.events import EventLog
from core.models import DomainEventRow
from core.phone import InvalidNumber
from db.engine import Database
from dialer.errors import CallNotTransferable, PbxUnavailable
from dialer.gate import DialRequest
from dialer.models import Call, CallLeg, CallTransfer, PresentedNumber
from dialer.schemas import TransferRequest
from dialer.service import CallService
from dialer.transfer import TransferMode
from dialer.transfers import TransferService
from dialer.translate import FactUpdate, LegUpdate
from tests.support.doubles import RecordingPbx

ALICE = Principal("alice", Role.AGENT, "t1", clients=frozenset({"bank1"}))
SAM = Principal("sam", Role.SUPERVISOR, "t1", clients=frozenset({"bank1"}))
MOBILE, WORK, SPOUSE, STRANGER = "+8613800138000", "+8613800130001", "+8613900139000", "+8613700137000"
PRESENTED = "+861087654321"
AFTERNOON = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, inside CN's 08:00-21:00
AGENT_CH, CUSTOMER_CH = "PJSIP/1001-00000001", "PJSIP/customers-00000002"


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    pbx: RecordingPbx
    cases: CaseService
    transfers: TransferService
    case_id: str
    call_id: str


@pytest.fixture
async def rig(db: Database) -> Rig:
    """alice's answered call to the debtor's mobile, for its case (CN rules: 08:00-21:00, third parties only
    after three failed own attempts); the case also lists the debtor's work number and a spouse (third party)."""
    clock, events, pbx = FakeClock(AFTERNOON), EventLog(), RecordingPbx()
    cases = CaseService(db=db, events=events, clock=clock)
    data = CaseIn.model_validate({
        "external_id": "C-1", "batch": "B1", "debtor_name": "张三", "amount": "1200.50", "currency": "cny",
        "days_overdue": 40, "timezone": "Asia/Shanghai", "agent": "alice", "team": "t1",
        "contacts": [{"number": MOBILE, "kind": "mobile"}, {"number": WORK, "kind": "work"},
                     {"number": SPOUSE, "kind": "third_party", "relation": "spouse"}]})
    case_id = (await cases.upsert(OPERATOR, client_id="bank1", data=data)).case_id
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1", clients=["bank1"])
        await create_user(s, user_id="sam", role=Role.SUPERVISOR, sip_user="1010", team="t1", clients=["bank1"])
        s.add(PresentedNumber(client_id="bank1", position=0, number=PRESENTED, updated_by="ada"))
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile="CN"),
                          dialer=DialerSettings(), clock=clock, cases=CaseDirectoryAdapter())
    calls = CallService(db=db, events=events, pbx=pbx, gate=gate, settings=DialerSettings(), clock=clock)
    call = await calls.request_call(ALICE, agent_id="alice", number=MOBILE, case_id=case_id)
    now = clock.now()
    await calls.apply(FactUpdate(call.id, "test", {
        "originated_at": now, "agent_ringing_at": now, "agent_answered_at": now, "agent_channel": AGENT_CH,
        "customer_ringing_at": now, "customer_channel": CUSTOMER_CH, "answered_at": now}))
    pbx.actions.clear()
    transfers = TransferService(db=db, events=events, pbx=pbx, clock=clock, gate=gate, default_region="CN")
    return Rig(db, clock, pbx, cases, transfers, case_id, call.id)


async def _decisions(rig: Rig) -> list[ComplianceDecision]:
    async with rig.db.read() as s:
        return list((await s.scalars(select(ComplianceDecision).where(ComplianceDecision.case_id == rig.case_id)
                                     .order_by(ComplianceDecision.at))).all())


async def _nothing_changed(rig: Rig) -> None:
    """A blocked transfer: no transfer, no leg, nothing sent to the PBX, ``call.blocked`` the last call event."""
    assert rig.pbx.actions == []
    async with rig.db.read() as s:
        assert (await s.scalars(select(CallTransfer).where(CallTransfer.call_id == rig.call_id))).all() == []
        assert (await s.scalars(select(CallLeg).where(CallLeg.call_id == rig.call_id))).all() == []
        last = (await s.scalars(select(DomainEventRow.type).where(DomainEventRow.type.like("call.%"))
                                .order_by(DomainEventRow.id.desc()).limit(1))).one()
    assert last == "call.blocked"


async def _blocked(rig: Rig, principal: Principal, number: str) -> CallBlockedError:
    before = len(await _decisions(rig))
    with pytest.raises(CallBlockedError) as info:
        await rig.transfers.request(principal, rig.call_id, number=number)
    decisions = await _decisions(rig)
    assert len(decisions) == before + 1
    logged = decisions[-1]
    assert (logged.allowed, logged.kind, logged.actor, logged.number, logged.call_id, logged.code) == (
        False, "dial", principal.user_id, number, None, info.value.code)
    body = info.value.details
    assert body["decision_id"] == logged.id and body["messages"]["zh-CN"] and body["messages"]["en"]
    assert info.value.status == 409
    await _nothing_changed(rig)
    return info.value


async def test_an_allowed_number_is_logged_and_reaches_the_pbx_as_e164_with_the_clients_number(rig: Rig) -> None:
    t = await rig.transfers.request(ALICE, rig.call_id, number="138 0013 0001")  # normalised like a dial's
    assert (t.target_id, t.target_role, t.from_agent, t.state) == (WORK, "outside", "alice", "requested")
    [logged] = [d for d in await _decisions(rig) if d.number == WORK]
    assert (logged.allowed, logged.kind, logged.actor, logged.call_id, logged.id) == (
        True, "dial", "alice", rig.call_id, t.decision_id)
    [(action, sent)] = rig.pbx.actions
    assert action == "blind_transfer_out"
    assert (sent["number"], sent["presented"], sent["agent_channel"], sent["customer_channel"], sent["back"]) == (
        WORK, PRESENTED, AGENT_CH, CUSTOMER_CH, "1001")
    assert sent["target_leg"] == t.target_leg_id
    async with rig.db.read() as s:
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == rig.call_id).order_by(CallLeg.seq))).all()
        types = (await s.scalars(select(DomainEventRow.type).where(DomainEventRow.call_id == rig.call_id)
                                 .order_by(DomainEventRow.id))).all()
    assert [(leg.role, leg.user_id, leg.number) for leg in legs] == [("agent", "alice", None),
                                                                      ("outside", None, WORK)]
    assert types[-1] == "call.transfer_requested"

    # the number answers (completed), alice leaves, the outside leg's talk is its own and no user's
    now = rig.clock.now()
    await rig.transfers.apply_leg(LegUpdate(rig.call_id, None, t.id, "Hangup", {"ended_at": now, "cause": 16}))
    await rig.transfers.apply_leg(LegUpdate(rig.call_id, t.target_leg_id, None, "Newstate", {
        "channel": "PJSIP/customers-00000003", "answered_at": now + timedelta(seconds=2)}))
    await rig.transfers.apply_leg(LegUpdate(rig.call_id, t.target_leg_id, None, "Hangup", {
        "ended_at": now + timedelta(seconds=32), "cause": 16}))
    legs_now, transfers = await rig.transfers.legs(ALICE, rig.call_id)
    assert [(leg.role, leg.talk_seconds) for leg in legs_now][1] == ("outside", 30.0)
    assert [x.state for x in transfers] == ["completed"]


async def _dial_decision(rig: Rig, number: str) -> tuple[bool, list[str]]:
    """What the gate would answer alice dialling ``number`` for the case now (a dry run: nothing counted)."""
    async with rig.db.begin() as s:
        d = await rig.transfers.gate.check(s, DialRequest(
            call_id=str(uuid.uuid4()), agent_id="alice", team="t1", number=number, case_id=rig.case_id,
            principal=ALICE, now=rig.clock.now(), dry_run=True))
    return d.allowed, list(d.body.get("rule_ids", []))


async def test_a_transfer_to_a_number_counts_in_the_ledger_for_later_dials(rig: Rig) -> None:
    """CN allows 6 unanswered attempts to a number a day: five dials and one transfer that rang unanswered use
    them up, so the next dial of the number is blocked; a transfer the PBX never placed is no attempt."""
    async with rig.db.begin() as s:
        debtor = (await s.get(Call, rig.call_id)).debtor_key
        for n in range(5):  # five earlier dials of the work number today, none answered
            at = rig.clock.now() - timedelta(hours=3, minutes=n)
            s.add(Call(id=str(uuid.uuid4()), agent_id="alice", requested_by="alice", number=WORK, number_kind="own",
                       case_id=rig.case_id, debtor_key=debtor, pbx="local", sip_user="1001", state="ended",
                       created_at=at, customer_ringing_at=at, ended_at=at + timedelta(seconds=40)))
    assert (await _dial_decision(rig, WORK))[0]

    rig.pbx.down = True  # the PBX is not there: the transfer fails before anything is dialled
    with pytest.raises(PbxUnavailable):
        await rig.transfers.request(ALICE, rig.call_id, number=WORK)
    assert (await _dial_decision(rig, WORK))[0]
    rig.pbx.down = False

    t = await rig.transfers.request(ALICE, rig.call_id, number=WORK)  # the sixth attempt, allowed
    async with rig.db.read() as s:
        leg = await s.get(CallLeg, t.target_leg_id)
    assert leg is not None and (leg.case_id, leg.debtor_key, leg.number_kind) == (rig.case_id, debtor, "own")
    allowed, rules = await _dial_decision(rig, WORK)  # in flight: counted already
    assert not allowed and "cap:unanswered-per-number-per-day" in rules
    now = rig.clock.now()
    await rig.transfers.apply_leg(LegUpdate(rig.call_id, t.target_leg_id, None, "DialState", {"ringing_at": now}))
    await rig.transfers.apply_leg(LegUpdate(rig.call_id, t.target_leg_id, None, "Hangup", {
        "ended_at": now + timedelta(seconds=30), "cause": 19, "dial_status": "NOANSWER"}))
    rig.clock.advance(minutes=1)
    allowed, rules = await _dial_decision(rig, WORK)  # it rang, nobody answered: still an attempt
    assert not allowed and "cap:unanswered-per-number-per-day" in rules
    assert (await _dial_decision(rig, MOBILE))[0]  # another number of the debtor: its own count


async def test_attended_to_a_number_consults_it_through_the_trunk(rig: Rig) -> None:
    t = await rig.transfers.request(SAM, rig.call_id, number=WORK, mode=TransferMode.ATTENDED)
    [(action, sent)] = rig.pbx.actions
    assert action == "attended_transfer_out" and (sent["number"], sent["presented"]) == (WORK, PRESENTED)
    assert t.requested_by == "sam" and t.from_agent == "alice"
    [logged] = [d for d in await _decisions(rig) if d.number == WORK]
    assert (logged.actor, logged.actor_role, logged.agent_id) == ("sam", "supervisor", "alice")


async def test_a_do_not_call_number_is_blocked(rig: Rig) -> None:
    async with rig.db.begin() as s:
        s.add(DoNotCall(value=WORK, kind="exact", client_id=EVERY_CLIENT, reason="asked", added_by="ada"))
    err = await _blocked(rig, ALICE, WORK)
    assert err.code == "do-not-call"


async def test_a_number_outside_the_calling_window_is_blocked(rig: Rig) -> None:
    rig.clock.advance(hours=7, minutes=30)  # 21:30 in Shanghai: the call went on, the window closed
    err = await _blocked(rig, ALICE, WORK)
    assert err.code == "outside-calling-hours" and err.details["next_allowed_at"]


async def test_a_case_on_hold_is_blocked(rig: Rig) -> None:
    await rig.cases.hold(OPERATOR, rig.case_id, reason="dispute")
    err = await _blocked(rig, SAM, WORK)
    assert err.code == "case-on-hold"


async def test_the_third_party_rules_apply_and_a_number_of_no_contact_is_blocked(rig: Rig) -> None:
    err = await _blocked(rig, ALICE, SPOUSE)  # a spouse: only after three failed attempts on own numbers
    assert err.code == "third-party-restricted"
    err = await _blocked(rig, ALICE, STRANGER)  # not on the case: a third party whose number is not verified
    assert err.code == "do-not-call" and "do-not-call:number-invalid" in err.details["rule_ids"]


async def test_whoever_transfers_needs_the_right_to_dial_the_case(rig: Rig) -> None:
    for role in (Role.MANAGER, Role.QA):
        with pytest.raises(Forbidden):
            await rig.transfers.request(Principal("mia", role, None, clients=frozenset({"bank1"})), rig.call_id,
                                        number=WORK)
    # the case went to bob while alice talked: alice may no longer dial it, so not transfer it to a number
    async with rig.db.begin() as s:
        await s.execute(update(Case).where(Case.id == rig.case_id).values(assigned_agent="bob"))
    with pytest.raises(NoSuchCase):
        await rig.transfers.request(ALICE, rig.call_id, number=WORK)
    assert [d.number for d in await _decisions(rig)] == [MOBILE]  # only the dial: a case not seen is not decided
    await _nothing_changed_but_the_dial(rig)


async def _nothing_changed_but_the_dial(rig: Rig) -> None:
    assert rig.pbx.actions == []
    async with rig.db.read() as s:
        assert (await s.scalars(select(CallTransfer).where(CallTransfer.call_id == rig.call_id))).all() == []


async def test_a_bad_number_or_a_call_without_a_case_is_refused_before_the_gate(rig: Rig) -> None:
    with pytest.raises(InvalidNumber):
        await rig.transfers.request(ALICE, rig.call_id, number="+86 12")
    async with rig.db.begin() as s:
        await s.execute(update(Call).where(Call.id == rig.call_id).values(case_id=None))
    with pytest.raises(CallNotTransferable) as info:
        await rig.transfers.request(ALICE, rig.call_id, number=WORK)
    assert info.value.details["reason"] == "the call has no case to dial the number for"
    assert [d.number for d in await _decisions(rig)] == [MOBILE]
    await _nothing_changed_but_the_dial(rig)


@pytest.mark.parametrize("body", [
    {}, {"mode": "blind"}, {"target": "bob", "number": WORK}, {"number": "+86138\r\nAction: Hangup"},
    {"number": "PJSIP/1002"}, {"number": "${EXTEN}"}, {"number": ""}, {"number": "+8613800130001", "agent": "x"}])
def test_a_transfer_names_exactly_one_target_and_a_number_is_digits(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        TransferRequest.model_validate(body)


def test_a_number_as_people_write_it_is_accepted_for_the_normaliser() -> None:
    req = TransferRequest.model_validate({"number": "+86 138-0013-0001", "mode": "attended"})
    assert (req.target, req.number, req.mode) == (None, "+86 138-0013-0001", TransferMode.ATTENDED)
