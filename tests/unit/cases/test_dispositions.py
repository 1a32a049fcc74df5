"""Dispositions and the contact log: policy holds, number status, write-once contact rows."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import OPERATOR, Principal
from cases.contacts import attach_recording, record_contact
from cases.dispositions import record_disposition
from cases.errors import DispositionExists
from cases.models import CaseContact, ContactLog
from cases.schemas import DispositionIn
from cases.service import CaseService, holds_for
from core.clock import FakeClock
from core.errors import ValidationFailed
from core.events import EventLog
from core.models import DomainEventRow
from dialer.errors import NoSuchCall
from dialer.models import Call
from tests.unit.cases.test_service import T0, _case

BANK1 = frozenset({"bank1"})
AGENT = Principal("agent1", Role.AGENT, clients=BANK1)


async def _setup(database, number="+8613800138000"):
    events = EventLog()
    svc = CaseService(db=database, events=events, clock=FakeClock(T0))
    cid = (await svc.upsert(OPERATOR, client_id="bank1", data=_case())).case_id
    call = Call(id=f"call-{number[-4:]}", agent_id="agent1", requested_by="agent1", number=number, case_id=cid,
                client_id="bank1", pbx="pbx1", sip_user="1001", state="ended", created_at=T0,
                answered_at=T0 + timedelta(seconds=8), ended_at=T0 + timedelta(seconds=98), talk_seconds=90.0,
                end_reason="completed", facts={})
    async with database.begin() as s:
        s.add(call)
    return events, cid, call


async def _record(database, events, call_id, principal=AGENT, **data):
    async with database.begin() as s:
        return await record_disposition(s, events, principal=principal, call_id=call_id,
                                        data=DispositionIn.model_validate(data), now=T0 + timedelta(minutes=2))


async def test_dispute_holds_the_case_and_requests_legal_hold(database):
    events, cid, call = await _setup(database)
    disp, holds = await _record(database, events, call.id, outcome="dispute", notes="says never had the card")
    assert holds == ["dispute"] and disp.outcome == "dispute"
    async with database.read() as s:
        assert await holds_for(s, cid) == ["dispute"]
        assert (await s.get(Call, call.id)).outcome == "dispute"
        types = (await s.scalars(select(DomainEventRow.type).order_by(DomainEventRow.id))).all()
        log = (await s.scalars(select(ContactLog))).one()
    assert types[-3:] == ["disposition.recorded", "hold.applied", "recordings.legal_hold_requested"]
    assert (log.outcome, log.connected, log.talk_seconds, log.number_kind) == ("dispute", True, 90.0, "mobile")


async def test_a_disposition_is_recorded_once_and_only_by_the_calls_agent(database):
    events, _cid, call = await _setup(database)
    with pytest.raises(NoSuchCall):
        await _record(database, events, call.id, principal=Principal("agent2", Role.AGENT, clients=BANK1),
                      outcome="refuses")
    await _record(database, events, call.id, outcome="promise_to_pay", promise_amount="300",
                  promise_date=date(2025, 3, 10), promise_currency="CNY")
    with pytest.raises(DispositionExists):
        await _record(database, events, call.id, principal=Principal("sup", Role.SUPERVISOR, clients=BANK1),
                      outcome="refuses")


def test_outcome_fields_are_validated():
    with pytest.raises(ValueError):
        DispositionIn.model_validate({"outcome": "promise_to_pay", "promise_amount": "10"})
    with pytest.raises(ValueError):
        DispositionIn.model_validate({"outcome": "callback_requested"})
    with pytest.raises(ValueError):
        DispositionIn.model_validate({"outcome": "refuses", "third_party_objected": True})
    assert ValidationFailed  # the API turns these into 422


async def test_wrong_number_invalidates_it_and_objection_flags_the_third_party(database):
    events, cid, call = await _setup(database)
    _, _, third = await _setup_extra(database, events, cid, "+8613900139000")
    await _record(database, events, call.id, outcome="wrong_number")
    await _record(database, events, third.id, outcome="third_party_answered", third_party_objected=True)
    async with database.read() as s:
        rows = {c.number: c for c in (await s.scalars(select(CaseContact))).all()}
        assert await holds_for(s, cid) == []
    assert rows["+8613800138000"].status == "invalid"
    assert rows["+8613900139000"].third_party_objected and rows["+8613900139000"].status == "valid"


async def _setup_extra(database, events, cid, number):
    call = Call(id="call-third", agent_id="agent1", requested_by="agent1", number=number, case_id=cid,
                client_id="bank1", pbx="pbx1", sip_user="1001", state="ended", created_at=T0, facts={})
    async with database.begin() as s:
        s.add(call)
    return events, cid, call


async def test_contact_row_is_write_once_whatever_arrives_first(database):
    _events, _cid, call = await _setup(database)
    async with database.begin() as s:  # the recording is stored before the call is logged
        assert await attach_recording(s, call.id, "rec-1", "AB" * 32)
        assert await attach_recording(s, call.id, "rec-2", "cd" * 32)  # ignored: write-once
        assert not await attach_recording(s, "no-such-call", "rec-3", "ef" * 32)
    async with database.begin() as s:
        c = await s.get(Call, call.id)
        c.talk_seconds = 5.0  # a later correction never rewrites the log
        await record_contact(s, c)
    async with database.read() as s:
        row = (await s.scalars(select(ContactLog))).one()
    assert (row.recording_id, row.recording_sha256) == ("rec-1", "ab" * 32)
    assert row.talk_seconds == 90.0 and row.connected
