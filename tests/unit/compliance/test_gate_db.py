"""The gate wired to the database, on SQLite and PostgreSQL: blocks never reach the PBX, every
decision is logged (append-only), counts come from the ledger, and concurrent dials never pass a cap."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from auth.models import Role
from auth.service import Principal, create_user
from compliance.errors import CallBlockedError
from compliance.models import ClientPolicy, ComplianceDecision
from compliance.profiles import get_profile
from compliance.service import CaseDialInfo, ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database
from dialer.models import Call
from dialer.service import CallService
from dialer.translate import FactUpdate
from tests.support.doubles import RecordingPbx

# 2026-11-30 is a Monday; 14:00 UTC = 22:00 in Shanghai, 09:00 in New York.
EVENING_SHANGHAI = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
MORNING_SHANGHAI = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
CN_NUMBER = "+8613800000001"
BANKS = frozenset({"bank", "demo-bank", "cn-bank", "capped"})
ALICE = Principal("alice", Role.AGENT, "t1", clients=BANKS)


class OneCase:
    """A case directory with one case per client id given."""

    def __init__(self, client_id: str | None = None) -> None:
        self.client_id = client_id
        self.holds: tuple[str, ...] = ()

    async def dial_info(self, session, *, case_id: str, number: str) -> CaseDialInfo | None:
        if case_id != "case-1":
            return None
        return CaseDialInfo(client_id=self.client_id, batch_id="b1", debtor_key="bank:case-1", holds=self.holds,
                            assigned_agent="alice", team="t1")

    async def dial_infos_for_number(self, session, *, number: str, client_ids=None) -> list[CaseDialInfo]:
        return []  # no case lists a number: a dial without a case is a manual one

    async def active_holds(self, session, case_id: str) -> list[str]:
        return list(self.holds)

    async def case_status(self, session, case_id: str) -> str | None:
        return "active" if case_id == "case-1" else None


@dataclass
class Harness:
    db: Database
    clock: FakeClock
    pbx: RecordingPbx
    calls: CallService
    cases: OneCase


async def make(db: Database, *, profile: str = "CN", at: datetime = MORNING_SHANGHAI,
               client: str | None = None) -> Harness:
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1", clients=sorted(BANKS))
    clock = FakeClock(at)
    pbx = RecordingPbx()
    cases = OneCase(client)
    events = EventLog()
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile=profile),
                          dialer=DialerSettings(), clock=clock, cases=cases)
    calls = CallService(db=db, events=events, pbx=pbx, gate=gate, settings=DialerSettings(), clock=clock)
    return Harness(db, clock, pbx, calls, cases)


async def test_outside_hours_is_409_logged_and_never_reaches_the_pbx(db: Database) -> None:
    h = await make(db, at=EVENING_SHANGHAI)
    with pytest.raises(CallBlockedError) as info:
        await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    err = info.value
    assert err.status == 409 and err.code == "outside-calling-hours"
    assert err.details["zones"] == [{"zone": "Asia/Shanghai", "source": "phone_prefix"}]
    assert err.details["next_allowed_at"] == "2026-12-01T00:00:00Z"  # 08:00 Shanghai next day
    assert h.pbx.actions == []
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 0
        row = (await s.scalars(select(ComplianceDecision))).one()
        assert not row.allowed and row.code == "outside-calling-hours" and row.actor == "alice"
        assert row.zones == [{"zone": "Asia/Shanghai", "source": "phone_prefix"}]
        blocked = (await s.scalars(select(DomainEventRow).where(DomainEventRow.type == "call.blocked"))).one()
        assert blocked.payload["decision_id"] == row.id


async def test_allowed_call_is_logged_with_its_call_id(db: Database) -> None:
    h = await make(db)
    call = await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    assert [a for a, _ in h.pbx.actions] == ["originate"]
    async with db.read() as s:
        row = (await s.scalars(select(ComplianceDecision))).one()
        assert row.allowed and row.call_id == call.id and call.decision_id == row.id


async def test_decision_log_is_append_only(db: Database) -> None:
    h = await make(db, at=EVENING_SHANGHAI)
    with pytest.raises(CallBlockedError):
        await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    with pytest.raises(Exception, match="append-only"):
        async with db.begin() as s:
            await s.execute(update(ComplianceDecision).values(allowed=True))
    with pytest.raises(Exception, match="append-only"):
        async with db.begin() as s:
            await s.execute(text("DELETE FROM compliance_decisions"))
    async with db.read() as s:
        assert (await s.scalars(select(ComplianceDecision.allowed))).all() == [False]


async def test_demo_client_may_be_called_at_night_and_check_does_not_dial(db: Database) -> None:
    h = await make(db, at=EVENING_SHANGHAI, client="demo-bank")
    async with db.begin() as s:
        s.add(ClientPolicy(client_id="demo-bank", jurisdiction="DEMO", policy={}, updated_by="ada"))
    checked = await h.calls.check(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    assert checked["allowed"] is True and h.pbx.actions == []
    call = await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    assert call.client_id == "demo-bank" and call.debtor_key == "bank:case-1"


async def test_hold_blocks_and_override_cannot_lift_a_hard_stop(db: Database) -> None:
    h = await make(db, client=None)
    h.cases.holds = ("dispute",)
    sam = Principal("sam", Role.SUPERVISOR, clients=BANKS)
    with pytest.raises(CallBlockedError) as info:
        await h.calls.request_call(sam, agent_id="alice", number=CN_NUMBER, case_id="case-1",
                                   override_reason="customer asked us to call")
    assert info.value.code == "case-on-hold"
    assert h.pbx.actions == []


async def _unanswered(h: Harness, n: int) -> None:
    for _ in range(n):
        call = await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
        await h.calls.apply(FactUpdate(call.id, "t", {"customer_ringing_at": h.clock.now(), "dial_status": "NOANSWER",
                                                      "ended_at": h.clock.now()}))
        h.clock.advance(minutes=1)


async def test_unanswered_cap_per_number_per_day_counts_from_the_ledger(db: Database) -> None:
    h = await make(db)
    await _unanswered(h, 6)  # CN: at most 6 unanswered attempts per number per day
    with pytest.raises(CallBlockedError) as info:
        await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")
    assert info.value.code == "frequency-cap"
    # the cap clears at midnight Shanghai, but the window only opens at 08:00 Shanghai
    assert info.value.details["next_allowed_at"] == "2026-12-01T00:00:00Z"
    assert "frequency-cap" in {b["code"] for b in info.value.details["blocks"]}
    h.clock.set(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    await h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dials=st.integers(min_value=2, max_value=8), cap=st.integers(min_value=1, max_value=3))
async def test_concurrent_dials_never_exceed_the_cap(db: Database, dials: int, cap: int) -> None:
    async with db.begin() as s:
        await s.execute(text("DELETE FROM calls"))
        await s.execute(text("DELETE FROM compliance_policies"))
        s.add(ClientPolicy(client_id="capped", jurisdiction="DEMO",
                           policy={"max_connected_per_debtor_per_day": 3,
                                   "max_unanswered_per_number_per_day": cap}, updated_by="ada"))
    h = await make(db, client="capped")
    results = await asyncio.gather(*(
        h.calls.request_call(ALICE, agent_id="alice", number=CN_NUMBER, case_id="case-1") for _ in range(dials)
    ), return_exceptions=True)
    placed = [r for r in results if not isinstance(r, BaseException)]
    blocked = [r for r in results if isinstance(r, CallBlockedError)]
    assert len(placed) == min(cap, dials)
    assert len(placed) + len(blocked) == dials
    assert len(h.pbx.actions) == len(placed)


async def test_client_rules_tighten_only_the_fields_they_name(db: Database) -> None:
    """A DEMO client whose only rule is a do-not-call prefix keeps DEMO's all-hours window (not the model's
    default 08:00-21:00), and still gets its prefix; a CN client's rule never loosens CN's hours."""
    h = await make(db, profile="CN")
    gate = h.calls.gate
    assert isinstance(gate, ComplianceGate)
    async with db.begin() as s:
        s.add(ClientPolicy(client_id="demo-bank", jurisdiction="DEMO", policy={"do_not_call_prefixes": ["+8613900"]},
                           updated_by="t"))
        s.add(ClientPolicy(client_id="cn-bank", jurisdiction="CN", policy={"max_connected_per_debtor_per_day": 1},
                           updated_by="t"))
    async with db.read() as s:
        demo = await gate.policy_for(s, "demo-bank")
        cn = await gate.policy_for(s, "cn-bank")
        profile_demo = await gate.policy_for(s, None)
    assert "+8613900" in demo.do_not_call_prefixes
    assert demo.model_dump(include={"windows"}) == get_profile("DEMO").model_dump(include={"windows"})
    assert cn.model_dump(include={"windows"}) == get_profile("CN").model_dump(include={"windows"})
    assert cn.max_connected_per_debtor_per_day == 1
    assert profile_demo.id == get_profile("CN").id  # no client: the default profile
