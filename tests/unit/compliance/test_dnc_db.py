"""The do-not-call list read per dial (the number and its prefixes only) decides as the whole list would."""

from __future__ import annotations

from auth.models import Role
from auth.service import Principal, create_user
from compliance.models import DoNotCall
from compliance.service import ComplianceGate
from config.settings import ComplianceSettings, DialerSettings
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.service import CallService
from tests.support.doubles import RecordingPbx
from tests.unit.compliance.test_gate_db import MORNING_SHANGHAI, OneCase

ALICE = Principal("alice", Role.AGENT, "t1")
NUMBER = "+8613800000001"


async def _service(db: Database, entries: list[tuple[str, str]]) -> tuple[CallService, ComplianceGate]:
    async with db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001")
        for value, kind in entries:
            s.add(DoNotCall(value=value, kind=kind, reason="test", added_by="admin"))
    clock, events = FakeClock(MORNING_SHANGHAI), EventLog()
    gate = ComplianceGate(db=db, events=events, settings=ComplianceSettings(default_profile="CN"),
                          dialer=DialerSettings(), clock=clock, cases=OneCase())
    return CallService(db=db, events=events, pbx=RecordingPbx(), gate=gate, settings=DialerSettings(),
                       clock=clock), gate


# entries that cannot match NUMBER: an exact entry that is only a prefix of it, a longer exact number,
# a prefix it does not start with, a prefix longer than the number
NOT_MATCHING = [("+86138000", "exact"), ("+86138000000012", "exact"), ("+8613900", "prefix"),
                ("+86138000000019", "prefix")]


async def test_entries_that_cannot_match_do_not_block(db: Database) -> None:
    calls, _ = await _service(db, NOT_MATCHING)
    body = await calls.check(ALICE, agent_id="alice", number=NUMBER, case_id="case-1")
    assert body["allowed"] is True


async def test_exact_entry_blocks(db: Database) -> None:
    calls, _ = await _service(db, [*NOT_MATCHING, (NUMBER, "exact")])
    body = await calls.check(ALICE, agent_id="alice", number=NUMBER, case_id="case-1")
    assert body["allowed"] is False and body["rule_ids"] == ["do-not-call:list"]


async def test_prefix_entries_block_naming_the_first_matching_prefix(db: Database) -> None:
    calls, _ = await _service(db, [*NOT_MATCHING, ("+861380", "prefix"), ("+86", "prefix"), (NUMBER, "prefix")])
    body = await calls.check(ALICE, agent_id="alice", number=NUMBER, case_id="case-1")
    assert body["allowed"] is False and body["rule_ids"] == ["do-not-call:prefix"]
    assert "prefix +86 " in body["message"]


async def test_the_policy_shown_without_a_number_holds_the_whole_list(db: Database) -> None:
    _, gate = await _service(db, [*NOT_MATCHING, (NUMBER, "exact")])
    async with db.read() as s:
        whole = await gate.policy_for(s, None)
        for_dial = await gate.policy_for(s, None, number=NUMBER)
    assert whole.do_not_call_numbers == {"+86138000", "+86138000000012", NUMBER}
    assert whole.do_not_call_prefixes == {"+8613900", "+86138000000019"}
    assert for_dial.do_not_call_numbers == {NUMBER} and for_dial.do_not_call_prefixes == frozenset()
