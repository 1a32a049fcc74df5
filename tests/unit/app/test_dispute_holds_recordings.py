"""A dispute holds every recording of its case, whoever sets it (the case system through the API or its import,
a supervisor, a disposition), in the transaction of the hold; a recording made or stored later, while the
dispute stands, gets the hold too. Each hold is on the record (``recording.legal_hold_set``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compose import build_container, wire_case_import
from app.container import Container
from audit.models import AuditEntry
from auth.models import Role
from auth.service import Principal
from cases.events import LegalHoldRequested
from cases.rows import CaseIn
from cases.service import CaseService
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from dialer.models import Call
from dialer.translate import FactUpdate
from recordings.models import Recording
from recordings.runtime import RecordingsFeature
from tests.support.doubles import AllowAllGate, RecordingPbx
from tests.unit.recordings.conftest import Rig

CASE_SYSTEM = Principal("casesys", Role.INTEGRATION, clients=frozenset({"bank1"}))
SAM = Principal("sam", Role.SUPERVISOR, team="t1", clients=frozenset({"bank1"}))
NUMBER = "+8613800000001"


def _data(**over: object) -> CaseIn:
    return CaseIn.model_validate({"external_id": "C-1", "debtor_name": "张三", "amount": "100.00", "currency": "CNY",
                                  "team": "t1", "contacts": [{"number": NUMBER, "kind": "mobile"}], **over})


@asynccontextmanager
async def composed(rig: Rig) -> AsyncIterator[tuple[Container, RecordingsFeature]]:
    async with TaskGroup() as tasks, rig.feature() as feature:
        yield build_container(settings=rig.settings, clock=rig.clock, db=rig.db, events=feature.events,
                              stream=EventStream(rig.db), tasks=tasks, pbx=RecordingPbx(), gate=AllowAllGate(),
                              recordings=feature), feature


async def _held(rig: Rig) -> dict[str, bool]:
    async with rig.db.read() as s:
        return {r.call_id: r.legal_hold for r in (await s.scalars(select(Recording))).all()}


async def _audited(rig: Rig) -> list[tuple[str, str, str | None]]:
    async with rig.db.read() as s:
        rows = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "recording.legal_hold_set"))).all()
        return sorted((e.target_id, e.actor_id, e.client_id) for e in rows)


async def _stored(rig: Rig, feature: RecordingsFeature, case_id: str) -> Call:
    call = await rig.add_call(case=case_id, client="bank1")
    rig.write_legs(call.id)
    assert await feature.ingest.scan_once() == 1
    return call


async def test_the_case_systems_dispute_holds_every_recording_in_its_transaction(rig: Rig) -> None:
    async with composed(rig) as (c, feature):
        case_id = (await c.cases.upsert(CASE_SYSTEM, client_id="bank1", data=_data())).case_id
        stored = await _stored(rig, feature, case_id)
        other = await _stored(rig, feature, str(uuid.uuid4()))
        assert await c.cases.hold(CASE_SYSTEM, case_id, reason="hardship") is not None
        assert not any((await _held(rig)).values())  # only a dispute asks for a legal hold
        assert await c.cases.hold(CASE_SYSTEM, case_id, reason="dispute") is not None
        assert await _held(rig) == {stored.id: True, other.id: False}
        async with rig.db.read() as s:
            rec = (await s.scalars(select(Recording).where(Recording.call_id == stored.id))).one()
        assert await _audited(rig) == [(rec.id, "casesys", "bank1")]
        assert await feature.retention.sync_holds() == 1
        assert rec.key is not None and (await rig.store.head(rec.key)).legal_hold is True


async def test_the_hold_and_the_legal_hold_commit_or_roll_back_together(rig: Rig) -> None:
    async def boom(_session: AsyncSession, _request: LegalHoldRequested) -> None:
        raise RuntimeError("the transaction fails after the recordings were held")

    async with composed(rig) as (c, feature):
        case_id = (await c.cases.upsert(CASE_SYSTEM, client_id="bank1", data=_data())).case_id
        stored = await _stored(rig, feature, case_id)
        c.cases.add_legal_hold_listener(boom)
        with pytest.raises(RuntimeError):
            await c.cases.hold(SAM, case_id, reason="dispute", source="agent")
        assert await _held(rig) == {stored.id: False}
        assert (await c.cases.get(SAM, case_id))[2] == []  # no hold either
        assert await _audited(rig) == []


async def test_an_import_saying_dispute_holds_the_recordings(rig: Rig) -> None:
    async with composed(rig) as (c, feature):
        case_id = (await c.cases.upsert(CASE_SYSTEM, client_id="bank1", data=_data())).case_id
        stored = await _stored(rig, feature, case_id)
        await c.cases.bulk_upsert(CASE_SYSTEM, client_id="bank1", items=[
            {**_data().model_dump(mode="json"), "status": "on_hold", "hold_reason": "争议"}])
        assert await _held(rig) == {stored.id: True}


async def test_the_command_line_import_holds_them_too(rig: Rig) -> None:
    """``callguard import-cases`` builds its own CaseService: ``wire_case_import`` gives it the listener."""
    async with composed(rig) as (c, feature):
        case_id = (await c.cases.upsert(CASE_SYSTEM, client_id="bank1", data=_data())).case_id
        stored = await _stored(rig, feature, case_id)
    cli = CaseService(db=rig.db, events=EventLog(), clock=rig.clock)
    wire_case_import(cli)
    await cli.upsert_many(client_id="bank1", cases=[_data(status="on_hold", hold_reason="dispute")], by="cli")
    assert await _held(rig) == {stored.id: True}


async def test_a_recording_made_or_stored_while_the_case_is_disputed_gets_the_hold(rig: Rig) -> None:
    async with composed(rig) as (c, feature):
        case_id = (await c.cases.upsert(CASE_SYSTEM, client_id="bank1", data=_data(status="on_hold",
                                                                                   hold_reason="dispute"))).case_id
        # a call ringing when the dispute arrived: its recording row is made at agent answer, with the hold
        at = rig.clock.now()
        ringing = Call(id=str(uuid.uuid4()), agent_id="alice", team="t1", requested_by="alice", number=NUMBER,
                       case_id=case_id, client_id="bank1", pbx="local", sip_user="1001", state="agent_ringing",
                       created_at=at - timedelta(seconds=5), facts={}, agent_channel="PJSIP/1001-1")
        async with rig.db.begin() as s:
            s.add(ringing)
        await c.calls.apply(FactUpdate(ringing.id, "test", {"agent_answered_at": at}))
        assert await _held(rig) == {ringing.id: True}
        # a marker whose row was never made (the hook did not run): the row is made at ingest, held when stored
        late = await rig.add_call(case=case_id, client="bank1")
        rig.write_legs(late.id)
        assert await feature.ingest.scan_once() == 1
        assert await _held(rig) == {ringing.id: True, late.id: True}
        async with rig.db.read() as s:
            rec = (await s.scalars(select(Recording).where(Recording.call_id == late.id))).one()
        assert rec.state == "stored" and rec.key is not None
        assert await feature.retention.sync_holds() >= 1
        assert (await rig.store.head(rec.key)).legal_hold is True
        assert {actor for _rid, actor, _client in await _audited(rig)} == {"system"}
