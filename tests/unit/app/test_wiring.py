"""The features meet in the composition root: typed listeners wired by ``app.compose.build_container``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compose import build_container
from app.container import Container
from auth.models import Role
from auth.service import OPERATOR, Principal, create_user
from cases.events import LegalHoldRequested
from cases.rows import CaseIn
from cases.schemas import DispositionIn, Outcome, contact_json
from cases.service import CaseService
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from dialer.models import Call
from dialer.translate import LegUpdate
from recordings import events as rev
from recordings.models import Recording
from recordings.runtime import RecordingsFeature
from tests.support.doubles import AllowAllGate, RecordingPbx
from tests.unit.recordings.conftest import Rig

NUMBER = "+8613800000001"  # the number of Rig.add_call


async def _case(rig: Rig) -> str:
    data = CaseIn.model_validate({"external_id": "C-1", "batch": "B1", "debtor_name": "张三", "amount": "100.00",
                                  "currency": "CNY", "days_overdue": 40, "timezone": "Asia/Shanghai",
                                  "contacts": [{"number": NUMBER, "kind": "mobile"}]})
    svc = CaseService(db=rig.db, events=EventLog(), clock=rig.clock)
    result = await svc.upsert(OPERATOR, client_id="bank1", data=data)
    async with rig.db.begin() as s:
        await create_user(s, user_id="alice", role=Role.AGENT, sip_user="1001", team="t1")
    assert result.case_id is not None
    return result.case_id


@asynccontextmanager
async def composed(rig: Rig) -> AsyncIterator[tuple[Container, RecordingsFeature]]:
    """The services as compose builds them, around the rig's database and a recordings feature."""
    async with TaskGroup() as tasks, rig.feature() as feature:
        yield build_container(settings=rig.settings, clock=rig.clock, db=rig.db, events=feature.events,
                              stream=EventStream(rig.db), tasks=tasks, pbx=RecordingPbx(), gate=AllowAllGate(),
                              recordings=feature), feature


async def _recordings(rig: Rig) -> dict[str, Recording]:
    async with rig.db.read() as s:
        return {r.call_id: r for r in (await s.scalars(select(Recording))).all()}


async def test_a_stored_recording_reaches_the_case_contact_log(rig: Rig) -> None:
    case_id = await _case(rig)
    call = await rig.add_call(case=case_id)
    async with composed(rig) as (c, feature):
        rig.write_legs(call.id)
        assert await feature.ingest.scan_once() == 1
        rec = (await _recordings(rig))[call.id]
        assert rec.state == "stored" and rec.sha256
        contacts = await c.cases.contacts(OPERATOR, case_id)
    assert [(r.call_id, r.recording_id, r.recording_sha256) for r in contacts] == [(call.id, rec.id, rec.sha256)]


async def test_without_the_composition_root_the_contact_log_gets_no_recording(rig: Rig) -> None:
    """The recordings feature alone knows nothing of cases: the link is the listener compose wires."""
    case_id = await _case(rig)
    call = await rig.add_call(case=case_id)
    async with rig.feature() as feature:
        rig.write_legs(call.id)
        assert await feature.ingest.scan_once() == 1
    contacts = await CaseService(db=rig.db, events=EventLog(), clock=rig.clock).contacts(OPERATOR, case_id)
    assert [r.recording_id for r in contacts] == []


async def test_a_dispute_holds_every_recording_of_the_case(rig: Rig) -> None:
    case_id = await _case(rig)
    stored = await rig.add_call(case=case_id)
    other_case = await rig.add_call(case=None)
    async with composed(rig) as (c, feature):
        for call in (stored, other_case):
            rig.write_legs(call.id)
        assert await feature.ingest.scan_once() == 2
        ringing = await rig.add_call(case=case_id, ended=False)  # its recording is still being made
        async with rig.db.begin() as s:
            live = await s.get(Call, ringing.id)
            assert live is not None
            await feature.service.on_call_state(s, live)

        _disp, holds = await c.cases.dispose(Principal("alice", Role.AGENT), stored.id,
                                             DispositionIn(outcome=Outcome.DISPUTE))
        assert holds == ["dispute"]
        recs = await _recordings(rig)
        assert {cid: r.legal_hold for cid, r in recs.items()} == {
            stored.id: True, ringing.id: True, other_case.id: False}
        changed = await rig.events(rev.RECORDING_HOLD_CHANGED)
        assert sorted(e.call_id or "" for e in changed) == sorted([stored.id, ringing.id])

        rig.write_legs(ringing.id)  # the late recording is stored with the hold it was given
        async with rig.db.begin() as s:
            late = await s.get(Call, ringing.id)
            assert late is not None
            late.state, late.ended_at, late.end_reason = "ended", rig.clock.now(), "completed"
        assert await feature.ingest.scan_once() == 1
        assert await feature.retention.sync_holds() >= 1
        recs = await _recordings(rig)
        for call in (stored, ringing):
            rec = recs[call.id]
            assert rec.state == "stored" and rec.key is not None
            assert (await rig.store.head(rec.key)).legal_hold is True
        assert (await rig.store.head(recs[other_case.id].key or "")).legal_hold is False


async def test_the_hold_is_part_of_the_disposition_transaction(rig: Rig) -> None:
    """A disposition whose transaction fails after the hold was written leaves no hold behind."""
    case_id = await _case(rig)
    call = await rig.add_call(case=case_id)

    async def boom(_session: AsyncSession, _request: LegalHoldRequested) -> None:
        raise Boom

    async with composed(rig) as (c, feature):
        rig.write_legs(call.id)
        assert await feature.ingest.scan_once() == 1
        c.cases.add_legal_hold_listener(boom)  # runs after the recordings' listener, in the same transaction
        with pytest.raises(Boom):
            await c.cases.dispose(Principal("alice", Role.AGENT), call.id, DispositionIn(outcome=Outcome.DISPUTE))
        assert (await _recordings(rig))[call.id].legal_hold is False
        assert await rig.events(rev.RECORDING_HOLD_CHANGED) == []


class Boom(Exception):
    """Fails a transaction on purpose."""


async def test_a_transferred_calls_contact_log_names_each_agent_who_talked(rig: Rig) -> None:
    """Transfers' leg listener, wired by compose, writes the legs that talked into the call's contact-log row."""
    case_id = await _case(rig)
    async with rig.db.begin() as s:
        await create_user(s, user_id="bob", role=Role.AGENT, sip_user="1002", team="t1", clients=("bank1",))
    call = await rig.add_call(case=case_id, client="bank1", ended=False)
    async with rig.db.begin() as s:
        row = await s.get(Call, call.id)
        assert row is not None
        row.agent_channel, row.customer_channel = "PJSIP/1001-00000001", "PJSIP/customers-00000002"
    async with composed(rig) as (c, _feature):
        t = await c.transfers.request(Principal("alice", Role.AGENT, team="t1", clients=frozenset({"bank1"})),
                                      call.id, target="bob")
        assert isinstance(c.pbx, RecordingPbx)
        target_leg = c.pbx.actions[-1][1]["target_leg"]
        now = rig.clock.now()
        await c.transfers.apply_leg(LegUpdate(call.id, None, t.id, "Hangup", {"ended_at": now, "cause": 16}))
        await c.transfers.apply_leg(LegUpdate(call.id, target_leg, None, "Newstate", {"answered_at": now}))
        await c.transfers.apply_leg(LegUpdate(call.id, target_leg, None, "Hangup", {
            "ended_at": now + timedelta(seconds=45), "cause": 16}))
        contacts = await c.cases.contacts(OPERATOR, case_id)
    [entry] = [contact_json(r) for r in contacts]
    assert [(a["agent_id"], a["role"], a["talk_seconds"]) for a in entry["agents"]] == [
        ("alice", "agent", 20.0), ("bob", "target", 45.0)]
