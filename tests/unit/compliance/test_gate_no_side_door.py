"""No side door around the gate, on SQLite and PostgreSQL, with the real case directory: a dial without a case
is decided for every case holding the number (holds, do-not-call facts, per-debtor caps, the strictest client
policy); a number of no case is a supervisor's manual dial; a closed, paid, returned or recalled case is never
dialled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import OPERATOR, Principal, create_user
from cases.directory import CaseDirectoryAdapter
from cases.rows import CaseIn
from cases.service import CaseService
from compliance.errors import CallBlockedError, ManualDialNotAllowed
from compliance.models import ClientPolicy, ComplianceDecision
from compliance.service import ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.models import Call
from dialer.service import CallService
from dialer.translate import FactUpdate
from tests.support.doubles import RecordingPbx

MORNING_SHANGHAI = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
EVENING_SHANGHAI = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 22:00 in Shanghai
BANKS = frozenset({"bank1", "bank2", "night-bank", "day-bank"})
ALICE = Principal("alice", Role.AGENT, "t1", clients=BANKS)
SAM = Principal("sam", Role.SUPERVISOR, "t1", clients=BANKS)
MOBILE, HOME, SPOUSE, STRANGER = "+8613800138000", "+861062345678", "+8613900139000", "+8613700137000"


@dataclass
class Gate:
    db: Database
    clock: FakeClock
    pbx: RecordingPbx
    calls: CallService
    cases: CaseService


async def _gate(db: Database, at: datetime = MORNING_SHANGHAI, profile: str = "DEMO") -> Gate:
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1", clients=sorted(BANKS))
    clock, events, pbx = FakeClock(at), EventLog(), RecordingPbx()
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile=profile),
                          dialer=DialerSettings(), clock=clock, cases=CaseDirectoryAdapter())
    calls = CallService(db=db, events=events, pbx=pbx, gate=gate, settings=DialerSettings(), clock=clock)
    return Gate(db, clock, pbx, calls, CaseService(db=db, events=events, clock=clock))


def _case(ext: str, *numbers: tuple[str, str], **over: object) -> CaseIn:
    contacts = [{"number": n, "kind": k, **({"relation": "spouse"} if k == "third_party" else {})}
                for n, k in numbers]
    return CaseIn.model_validate({"external_id": ext, "debtor_name": "张三", "amount": "100", "currency": "CNY",
                                  "timezone": "Asia/Shanghai", "contacts": contacts, "agent": "alice", "team": "t1",
                                  **over})


async def _policy(db: Database, client: str, jurisdiction: str, **rules: object) -> None:
    async with db.begin() as s:
        s.add(ClientPolicy(client_id=client, jurisdiction=jurisdiction, policy=dict(rules), updated_by="ada"))


async def _decisions(db: Database) -> list[ComplianceDecision]:
    async with db.read() as s:
        return list((await s.scalars(select(ComplianceDecision).order_by(ComplianceDecision.at))).all())


async def test_a_held_cases_number_dialled_without_case_id_is_409_with_the_hold(db: Database) -> None:
    g = await _gate(db)
    cid = (await g.cases.upsert(OPERATOR, client_id="bank1", data=_case("C-1", (MOBILE, "mobile")))).case_id
    await g.cases.hold(OPERATOR, cid, reason="dispute")
    with pytest.raises(CallBlockedError) as info:
        await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE)
    err = info.value
    assert err.status == 409 and err.code == "case-on-hold" and "hold:dispute" in err.details["rule_ids"]
    assert cid in err.message and "bank1" in err.message
    assert g.pbx.actions == []
    (row,) = await _decisions(db)
    assert not row.allowed and row.case_id == cid and row.client_id == "bank1" and row.kind == "dial"
    assert row.details["dial"] == "number"
    assert [c["case_id"] for c in row.details["cases"]] == [cid]
    assert [b["case_id"] for b in row.details["blocks"]] == [cid]


async def test_every_case_holding_the_number_applies_and_is_named(db: Database) -> None:
    g = await _gate(db)
    clean = (await g.cases.upsert(OPERATOR, client_id="bank1", data=_case("C-1", (MOBILE, "mobile")))).case_id
    g.clock.advance(minutes=1)  # cases are listed oldest first
    held = (await g.cases.upsert(OPERATOR, client_id="bank2",
                                 data=_case("C-9", (HOME, "mobile"), (MOBILE, "work")))).case_id
    call = await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE)
    assert call.case_id is None and call.debtor_key == f"number:{MOBILE}"  # two cases: the call is the number's
    await g.cases.hold(OPERATOR, held, reason="attorney")
    with pytest.raises(CallBlockedError) as info:
        await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE)
    assert info.value.code == "case-on-hold" and info.value.details["rule_ids"] == ["hold:attorney"]
    for case_id, client in ((clean, "bank1"), (held, "bank2")):
        assert f"{case_id} (client {client})" in info.value.message
    rows = await _decisions(db)
    assert [[c["case_id"] for c in r.details["cases"]] for r in rows] == [[clean, held]] * 2
    assert [c["allowed"] for c in rows[-1].details["cases"]] == [True, False]


async def test_the_strictest_client_policy_applies_to_a_shared_number(db: Database) -> None:
    g = await _gate(db, at=EVENING_SHANGHAI)
    await _policy(db, "night-bank", "DEMO")  # all hours
    await _policy(db, "day-bank", "CN")  # 08:00-21:00
    night = (await g.cases.upsert(OPERATOR, client_id="night-bank", data=_case("N-1", (MOBILE, "mobile")))).case_id
    await g.calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=night)  # alone: allowed at 22:00
    assert (await _decisions(db))[-1].allowed
    await g.cases.upsert(OPERATOR, client_id="day-bank", data=_case("D-1", (MOBILE, "home")))
    with pytest.raises(CallBlockedError) as info:
        await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE)
    assert info.value.code == "outside-calling-hours"
    assert set(info.value.details["policy_id"].split("+")) == {"DEMO", "CN"}  # the clients' profiles, merged


async def test_a_debtors_cap_counts_a_dial_without_case_id_and_applies_to_it(db: Database) -> None:
    g = await _gate(db)
    await _policy(db, "bank1", "DEMO", max_attempts_per_debtor_rolling_7d=1)
    cid = (await g.cases.upsert(OPERATOR, client_id="bank1",
                                data=_case("C-1", (MOBILE, "mobile"), (HOME, "home")))).case_id
    call = await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE)  # the one case: the call is its
    assert call.case_id == cid and call.debtor_key == "bank1:C-1" and call.client_id == "bank1"
    for kwargs in ({"case_id": cid}, {}):  # the debtor's other number, with and without the case
        with pytest.raises(CallBlockedError) as info:
            await g.calls.request_call(ALICE, agent_id="alice", number=HOME, **kwargs)
        assert info.value.details["rule_ids"] == ["cap:attempts-per-debtor-7d"]


async def test_do_not_call_facts_of_the_case_apply_without_case_id(db: Database) -> None:
    g = await _gate(db)
    cid = (await g.cases.upsert(OPERATOR, client_id="bank1",
                                data=_case("C-1", (MOBILE, "mobile"), (SPOUSE, "third_party")))).case_id
    await g.cases.number_status(OPERATOR, cid, number=MOBILE, status="do_not_call", source="agent")
    await g.cases.number_status(OPERATOR, cid, number=SPOUSE, status=None, source="agent", third_party_objected=True)
    for number, rule in ((MOBILE, "do-not-call:number-status"), (SPOUSE, "third-party:objected")):
        with pytest.raises(CallBlockedError) as info:
            await g.calls.request_call(SAM, agent_id="alice", number=number, override_reason="supervisor says")
        assert rule in info.value.details["rule_ids"]


async def test_a_number_of_no_case_is_a_manual_dial_for_supervisors_only(db: Database) -> None:
    g = await _gate(db)
    await g.cases.upsert(OPERATOR, client_id="bank1", data=_case("C-1", (MOBILE, "mobile")))
    with pytest.raises(ManualDialNotAllowed) as info:
        await g.calls.request_call(ALICE, agent_id="alice", number=STRANGER)
    assert info.value.status == 403 and info.value.code == "manual-dial-not-allowed"
    with pytest.raises(ManualDialNotAllowed):
        await g.calls.request_call(Principal("casesys", Role.INTEGRATION, clients=frozenset({"bank1"})),
                                   agent_id="alice", number=STRANGER)
    assert g.pbx.actions == [] and await _decisions(db) == []
    call = await g.calls.request_call(SAM, agent_id="alice", number=STRANGER)
    assert call.case_id is None and [a for a, _ in g.pbx.actions] == ["originate"]
    (row,) = await _decisions(db)
    assert row.kind == "manual" and row.actor == "sam" and row.details["dial"] == "manual"
    assert row.message.startswith("Manual dial by sam (supervisor)") and row.call_id == call.id


@pytest.mark.parametrize("status", ["closed", "paid", "returned", "recalled"])
async def test_a_case_that_ended_blocks_every_dial(db: Database, status: str) -> None:
    g = await _gate(db)
    cid = (await g.cases.upsert(OPERATOR, client_id="bank1", data=_case("C-1", (MOBILE, "mobile")))).case_id
    await g.cases.set_status(OPERATOR, cid, status)
    for principal, kwargs in ((ALICE, {"case_id": cid}), (ALICE, {}),
                              (SAM, {"case_id": cid, "override_reason": "the debtor called us back"})):
        with pytest.raises(CallBlockedError) as info:
            await g.calls.request_call(principal, agent_id="alice", number=MOBILE, **kwargs)
        assert info.value.code == f"case-{status}" and f"case-{status}" in info.value.details["rule_ids"]
        assert info.value.details["blocks"][0]["overridable"] is False
    assert g.pbx.actions == []
    await g.cases.set_status(OPERATOR, cid, "active")  # reopened by the case system
    await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    assert len(g.pbx.actions) == 1


async def test_a_case_that_ends_while_the_agents_phone_rings_stops_the_customer_leg(db: Database) -> None:
    g = await _gate(db)
    cid = (await g.cases.upsert(OPERATOR, client_id="bank1", data=_case("C-1", (MOBILE, "mobile")))).case_id
    rings = await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    goes = await g.calls.request_call(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    answered = {"agent_answered_at": g.clock.now()}
    await g.calls.apply(FactUpdate(goes.id, "t", {**answered, "agent_channel": "PJSIP/1001-2"}))
    assert g.pbx.actions[-1] == ("release", {"pbx": goes.pbx, "channel": "PJSIP/1001-2"})
    await g.cases.set_status(OPERATOR, cid, "recalled")
    await g.calls.apply(FactUpdate(rings.id, "t", {**answered, "agent_channel": "PJSIP/1001-1"}))
    assert g.pbx.actions[-1] == ("hangup", {"pbx": rings.pbx, "channel": "PJSIP/1001-1"})
    async with db.read() as s:
        call = await s.get(Call, rings.id)
        assert call is not None and call.facts["cancel_reason"] == "case-recalled"
