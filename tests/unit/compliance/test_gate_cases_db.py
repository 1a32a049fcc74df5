"""The gate with the real case directory, which reads the policy (and on PostgreSQL takes the dial's locks)
in the same round trip as the case: the locks are the gate's own, and concurrent dials still never pass a
debtor's cap."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from auth.models import Role
from auth.service import OPERATOR, Principal, create_user
from cases.directory import CaseDirectoryAdapter
from compliance.errors import CallBlockedError
from compliance.models import ClientPolicy
from compliance.serialise import lock_keys
from compliance.service import ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.service import CallService
from tests.support.doubles import RecordingPbx
from tests.unit.cases.test_service import _case, _svc
from tests.unit.compliance.test_gate_db import MORNING_SHANGHAI

ALICE = Principal("alice", Role.AGENT, "t1", clients=frozenset({"bank1"}))
MOBILE, HOME, WORK = "+8613800138000", "+861062345678", "+861062345679"


async def _case_id(db: Database) -> str:
    data = _case(agent="alice", team="t1", contacts=[
        {"number": MOBILE, "kind": "mobile"}, {"number": HOME, "kind": "home"}, {"number": WORK, "kind": "work"}])
    return (await _svc(db).upsert(OPERATOR, client_id="bank1", data=data)).case_id


async def test_the_directory_takes_the_gates_own_locks_on_postgresql(db: Database) -> None:
    cid = await _case_id(db)
    async with db.begin() as s:
        info = await CaseDirectoryAdapter().dial_info(s, case_id=cid, number=HOME)
        assert info is not None and info.serialised is (not db.is_sqlite)
        if not db.is_sqlite:
            held = (await s.execute(text(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"))).scalars().all()
            assert set(held) == set(lock_keys(HOME, info.debtor_key))


async def test_concurrent_dials_to_several_numbers_of_one_debtor_never_exceed_its_cap(db: Database) -> None:
    cid = await _case_id(db)
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1", clients=["bank1"])
        s.add(ClientPolicy(client_id="bank1", jurisdiction="DEMO", policy={"max_attempts_per_debtor_rolling_7d": 2},
                           updated_by="ada"))
    clock, events, pbx = FakeClock(MORNING_SHANGHAI), EventLog(), RecordingPbx()
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile="DEMO"),
                          dialer=DialerSettings(), clock=clock, cases=CaseDirectoryAdapter())
    calls = CallService(db=db, events=events, pbx=pbx, gate=gate, settings=DialerSettings(), clock=clock)
    numbers = [MOBILE, HOME, WORK] * 2  # different numbers: only the debtor's lock keeps them apart
    results = await asyncio.gather(*(calls.request_call(ALICE, agent_id="alice", number=n, case_id=cid)
                                     for n in numbers), return_exceptions=True)
    placed = [r for r in results if not isinstance(r, BaseException)]
    blocked = [r for r in results if isinstance(r, CallBlockedError)]
    assert len(placed) == 2 and len(blocked) == len(numbers) - 2
    assert {b.code for b in blocked} == {"frequency-cap"}
    assert len(pbx.actions) == 2
