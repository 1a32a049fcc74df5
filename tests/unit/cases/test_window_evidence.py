"""Agreed calling windows need evidence and expire (SQLite and PostgreSQL): the case system's word, or a
recent, answered, recorded call with the case by the same agent; the gate honours only such windows and
names their evidence in the decision."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import update

from auth.models import Role
from auth.service import OPERATOR, Principal, create_user
from cases.directory import CaseDirectoryAdapter
from cases.errors import WindowEvidenceRejected, WindowEvidenceRequired, WindowExpiryTooFar
from cases.models import AgreedWindow
from cases.rows import CaseIn
from cases.service import CaseService
from cases.windows import WindowRules
from compliance.errors import CallBlockedError
from compliance.service import ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.models import Call
from dialer.service import CallService
from recordings.models import Recording
from tests.support.doubles import RecordingPbx

CALL_ENDED = datetime(2026, 11, 30, 12, 50, tzinfo=UTC)  # Monday 20:50 in Shanghai
MOBILE = "+8613800138000"
ALICE = Principal("alice", Role.AGENT, "t1", clients=frozenset({"bank1"}))


async def _setup(database: Database, *, recording: str | None = "stored", answered: bool = True,
                 agent: str = "alice", other_case: bool = False) -> tuple[CaseService, FakeClock, str, str]:
    clock = FakeClock(CALL_ENDED + timedelta(minutes=10))
    svc = CaseService(db=database, events=EventLog(), clock=clock, window_rules=WindowRules())
    data = CaseIn.model_validate({"external_id": "C-1", "debtor_name": "张三", "amount": "100", "currency": "CNY",
                                  "timezone": "Asia/Shanghai", "agent": "alice", "team": "t1",
                                  "contacts": [{"number": MOBILE, "kind": "mobile"}]})
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=data)).case_id
    other = (await svc.upsert(OPERATOR, client_id="bank1", data=data.model_copy(update={"external_id": "C-2"}))).case_id
    async with database.begin() as s:
        s.add(Call(id="call-1", agent_id=agent, requested_by=agent, number=MOBILE, case_id=other if other_case else cid,
                   client_id="bank1", pbx="local", sip_user="1001", state="ended",
                   created_at=CALL_ENDED - timedelta(minutes=3),
                   answered_at=CALL_ENDED - timedelta(minutes=2) if answered else None, ended_at=CALL_ENDED,
                   facts={}))
        if recording is not None:
            s.add(Recording(id="rec-1", call_id="call-1", state=recording))
    return svc, clock, cid, "call-1"


async def _add(svc: CaseService, cid: str, *, role: str = "agent", by: str = "alice", call_id: str | None = "call-1",
               expires_at: datetime | None = None) -> AgreedWindow:
    window: AgreedWindow = await svc.add_window(
        Principal(by, Role(role), "t1", clients=frozenset({"bank1"})), cid, scope="case", number=None,
        weekdays=[0], start=time(21), end=time(23), zone="Asia/Shanghai", expires_at=expires_at, call_id=call_id)
    return window


async def test_an_agents_window_without_evidence_is_refused(database: Database) -> None:
    svc, _clock, cid, _call = await _setup(database)
    with pytest.raises(WindowEvidenceRequired) as info:
        await _add(svc, cid, call_id=None)
    assert info.value.status == 409 and info.value.code == "window-evidence-required"
    for role in ("supervisor", "admin"):  # only the case system needs no call
        with pytest.raises(WindowEvidenceRequired):
            await _add(svc, cid, role=role, call_id=None)
    assert await svc.windows(OPERATOR, cid) == []


@pytest.mark.parametrize(("setup", "by", "minutes_later", "reason"), [
    ({"agent": "carol"}, "alice", 10, "other-agent"),
    ({"other_case": True}, "alice", 10, "other-case"),
    ({"answered": False}, "alice", 10, "not-answered"),
    ({"recording": None}, "alice", 10, "not-recorded"),
    ({"recording": "empty"}, "alice", 10, "not-recorded"),
    ({}, "alice", 31, "too-old"),
])
async def test_a_call_that_proves_nothing_is_refused(database: Database, setup: dict[str, object], by: str,
                                                     minutes_later: int, reason: str) -> None:
    svc, clock, cid, _call = await _setup(database, **setup)
    clock.set(CALL_ENDED + timedelta(minutes=minutes_later))
    with pytest.raises(WindowEvidenceRejected) as info:
        await _add(svc, cid, by=by)
    assert info.value.status == 409 and info.value.details["reason"] == reason
    with pytest.raises(WindowEvidenceRejected) as missing:
        await _add(svc, cid, call_id="no-such-call")
    assert missing.value.details["reason"] == "no-such-call"


async def test_windows_expire_within_the_maximum(database: Database) -> None:
    svc, clock, cid, _call = await _setup(database)
    now = clock.now()
    with pytest.raises(WindowExpiryTooFar) as info:
        await _add(svc, cid, expires_at=now + timedelta(days=31))
    assert info.value.status == 422
    window = await _add(svc, cid)  # no expiry given: the maximum
    assert window.expires_at == now + timedelta(days=30) and window.evidence == "call"
    by_case_system = await _add(svc, cid, role="integration", call_id=None,
                                expires_at=now + timedelta(days=7))
    assert by_case_system.evidence == "case_system" and by_case_system.agreed_on_call_id is None


async def _gate(database: Database, clock: FakeClock) -> CallService:
    async with database.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1", clients=["bank1"])
    events = EventLog()
    gate = ComplianceGate(db=database, events=events, settings=ComplianceSettings(default_profile="CN"),
                          dialer=DialerSettings(), clock=clock, cases=CaseDirectoryAdapter())
    return CallService(db=database, events=events, pbx=RecordingPbx(), gate=gate, settings=DialerSettings(),
                       clock=clock)


async def test_a_window_with_evidence_opens_the_evening_and_shows_in_the_decision(database: Database) -> None:
    svc, clock, cid, call_id = await _setup(database)
    calls = await _gate(database, clock)
    clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))  # 22:00 in Shanghai: outside 08:00-21:00
    before = await calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    assert before["allowed"] is False and before["code"] == "outside-calling-hours"
    clock.set(CALL_ENDED + timedelta(minutes=10))
    window = await _add(svc, cid)
    clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    checked = await calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    assert checked["allowed"] is True
    assert f"window {window.id} (agreed on call {call_id}, until 2026-12-30 13:00 UTC)" in checked["message"]
    # a window from before evidence was required (none recorded) is not honoured
    async with database.begin() as s:
        await s.execute(update(AgreedWindow).values(evidence=None))
    again = await calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
    assert again["allowed"] is False and again["code"] == "outside-calling-hours"
    # and an expired one neither
    async with database.begin() as s:
        await s.execute(update(AgreedWindow).values(evidence="call"))
    clock.set(datetime(2026, 12, 28, 14, 0, tzinfo=UTC))  # a Monday, still inside the 30 days
    assert (await calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=cid))["allowed"] is True
    clock.set(datetime(2027, 1, 4, 14, 0, tzinfo=UTC))  # the Monday after it expired
    assert (await calls.check(ALICE, agent_id="alice", number=MOBILE, case_id=cid))["allowed"] is False
    with pytest.raises(CallBlockedError):
        await calls.request_call(ALICE, agent_id="alice", number=MOBILE, case_id=cid)
