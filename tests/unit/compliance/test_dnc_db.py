"""The do-not-call list read per dial (the number and its prefixes only) decides as the whole list would."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit.service import Actor
from auth.models import Role
from auth.service import Principal, create_user
from compliance.admin import ComplianceAdmin
from compliance.errors import ClientRequired, NoSuchClient, NoSuchDoNotCallEntry
from compliance.models import EVERY_CLIENT, DoNotCall
from compliance.policy_sql import read_policy_facts
from compliance.schemas import DoNotCallIn
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


async def test_a_banks_entries_bind_its_own_dials_and_entries_of_every_client_bind_all(db: Database) -> None:
    async with db.begin() as s:
        s.add(DoNotCall(value=NUMBER, kind="exact", client_id="bank-a", reason="asked bank A", added_by="mia"))
        s.add(DoNotCall(value="+86139", kind="prefix", client_id="bank-b", reason="bank B rule", added_by="bo"))
        s.add(DoNotCall(value="+8613700000007", kind="exact", reason="everyone", added_by="ada"))
    async with db.read() as s:
        for client, number, listed, prefix in [
            ("bank-a", NUMBER, True, None), ("bank-b", NUMBER, False, None),
            ("bank-a", "+8613900000009", False, None), ("bank-b", "+8613900000009", False, "+86139"),
            ("bank-a", "+8613700000007", True, None), ("bank-b", "+8613700000007", True, None),
            (None, NUMBER, True, None), (None, "+8613900000009", False, "+86139"),  # a manual dial: every entry
        ]:
            facts = await read_policy_facts(s, client, number)
            assert (facts.listed, facts.prefix) == (listed, prefix), (client, number)
            long_number = number + "0" * 10  # the expanding form, for numbers past the prefix slots
            assert (await read_policy_facts(s, client, long_number)).prefix == prefix, (client, long_number)


def _actor(p: Principal) -> Actor:
    return Actor(user_id=p.user_id, role=p.role.value)


async def test_who_may_add_and_remove_which_clients_entries(db: Database) -> None:
    _, gate = await _service(db, [])
    admin = ComplianceAdmin(db=db, gate=gate, clock=FakeClock(MORNING_SHANGHAI), retention_floor_days=730)
    sam = Principal("sam", Role.SUPERVISOR, clients=frozenset({"bank-a"}))
    two = Principal("tia", Role.ADMIN, clients=frozenset({"bank-a", "bank-b"}))
    ada = Principal("ada", Role.ADMIN)
    assert await admin.add_do_not_call(sam, DoNotCallIn(value=NUMBER), actor=_actor(sam)) == "bank-a"
    with pytest.raises(NoSuchClient):
        await admin.add_do_not_call(sam, DoNotCallIn(value=NUMBER, client="bank-b"), actor=_actor(sam))
    with pytest.raises(NoSuchClient):
        await admin.add_do_not_call(sam, DoNotCallIn(value=NUMBER, client="*"), actor=_actor(sam))
    with pytest.raises(ClientRequired):
        await admin.add_do_not_call(two, DoNotCallIn(value=NUMBER), actor=_actor(two))
    assert await admin.add_do_not_call(ada, DoNotCallIn(value=NUMBER), actor=_actor(ada)) == EVERY_CLIENT
    with pytest.raises(NoSuchDoNotCallEntry):  # bank A's admin may not lift the entry of every client
        await admin.remove_do_not_call(two, kind="exact", value=NUMBER, client="*", actor=_actor(two))
    with pytest.raises(NoSuchDoNotCallEntry):
        await admin.remove_do_not_call(two, kind="exact", value=NUMBER, client="bank-b", actor=_actor(two))
    await admin.remove_do_not_call(two, kind="exact", value=NUMBER, client="bank-a", actor=_actor(two))
    async with db.read() as s:
        left = (await s.execute(select(DoNotCall.value, DoNotCall.client_id))).all()
    assert [tuple(r) for r in left] == [(NUMBER, EVERY_CLIENT)]
