"""The two-person rule against a real database (SQLite and PostgreSQL): who may ask, who may decide, scoping by
client and team, single use, expiry, and each step in the audit trail in the transaction of the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from approvals.errors import (
    AlreadyRequested,
    NoSuchReleaseRequest,
    NothingToRelease,
    RequestDecided,
    RequestExpired,
    SamePerson,
)
from approvals.schemas import CaseHoldRelease, NumberRelease, RecordingHoldRelease, ReleaseRequestQuery
from approvals.service import ApprovalService
from audit.models import AuditEntry
from audit.service import Actor, AuditService
from auth.models import Role
from auth.service import Principal
from cases.errors import NoSuchCase, NoSuchContact
from cases.models import CaseContact, CaseHold
from cases.rows import CaseIn
from cases.service import upsert_case
from core.clock import FakeClock
from core.errors import Forbidden
from core.events import EventLog
from db.engine import Database
from recordings.errors import NoSuchRecording
from recordings.models import Recording

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAM = Principal("sam", Role.SUPERVISOR, team="t1", clients=frozenset({"bank1"}))
SUE = Principal("sue", Role.SUPERVISOR, team="t2", clients=frozenset({"bank1"}))
MIA = Principal("mia", Role.MANAGER, clients=frozenset({"bank1"}))
MAX = Principal("max", Role.MANAGER, clients=frozenset({"bank1"}))
MO = Principal("mo", Role.MANAGER, clients=frozenset({"bank2"}))
ADA = Principal("ada", Role.ADMIN)
ALICE = Principal("alice", Role.AGENT, team="t1", clients=frozenset({"bank1"}))
NUMBER = "+8613800138000"


def act(p: Principal) -> Actor:
    return Actor(p.user_id, str(p.role), address="10.0.0.7", request_id=f"req-{p.user_id}")


class Rig:
    def __init__(self, db: Database) -> None:
        self.db, self.clock, self.events = db, FakeClock(T0), EventLog()
        self.pushed: list[int] = []

        async def pushed() -> None:
            self.pushed.append(1)

        self.svc = ApprovalService(db=db, events=self.events, clock=self.clock,
                                   audit=AuditService(db=db, clock=self.clock), ttl=timedelta(days=7),
                                   holds_released=pushed)

    async def case(self, ext: str = "C-1", *, client: str = "bank1", team: str = "t1", hold: str | None = "deceased",
                   number_status: str = "valid") -> str:
        data = CaseIn.model_validate({
            "external_id": ext, "debtor_name": "张三", "amount": "100", "currency": "CNY", "team": team,
            "status": "on_hold" if hold else "active", "hold_reason": hold,
            "contacts": [{"number": NUMBER, "kind": "mobile", "status": number_status}]})
        async with self.db.begin() as s:
            return (await upsert_case(s, self.events, client_id=client, data=data, now=self.clock.now(),
                                      by="casesys")).case_id

    async def recording(self, rid: str = "r1", *, client: str | None = "bank1", held: bool = True) -> str:
        async with self.db.begin() as s:
            s.add(Recording(id=rid, call_id=f"call-{rid}", state="stored", case_id=None, agent_id="alice",
                            team="t1", client_id=client, legal_hold=held, created_at=T0, updated_at=T0))
        return rid

    async def holds(self, case_id: str) -> list[tuple[str, str | None]]:
        async with self.db.read() as s:
            rows = await s.scalars(select(CaseHold).where(CaseHold.case_id == case_id).order_by(CaseHold.applied_at))
            return [(h.reason, h.released_by) for h in rows]

    async def audit(self, **where: Any) -> list[AuditEntry]:
        async with self.db.read() as s:
            q = select(AuditEntry).filter_by(**where).order_by(AuditEntry.at, AuditEntry.action)
            return list((await s.scalars(q)).all())


@pytest.fixture
async def rig(database: Database) -> Rig:
    return Rig(database)


async def test_a_hard_stop_is_lifted_by_two_people_each_with_a_reason(rig: Rig) -> None:
    case_id = await rig.case()
    asked = await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased",
                                                       reason="the bank says the notice was wrong"), actor=act(SAM))
    assert (asked.state, asked.client_id, asked.team, asked.requested_by) == ("pending", "bank1", "t1", "sam")
    assert asked.expires_at == T0 + timedelta(days=7)
    assert await rig.holds(case_id) == [("deceased", None)]  # asking changes nothing
    rig.clock.advance(hours=1)
    done = await rig.svc.approve(MIA, asked.id, reason="checked the bank's letter", actor=act(MIA))
    assert (done.state, done.decided_by, done.decision_reason) == ("approved", "mia", "checked the bank's letter")
    assert await rig.holds(case_id) == [("deceased", "mia")]
    with pytest.raises(RequestDecided):  # single use
        await rig.svc.approve(MAX, asked.id, reason="again", actor=act(MAX))
    with pytest.raises(RequestDecided):
        await rig.svc.reject(MAX, asked.id, reason="too late", actor=act(MAX))
    entries = await rig.audit()
    assert [(e.action, e.actor_id, e.actor_role, e.client_id) for e in entries] == [
        ("release_request.created", "sam", "supervisor", "bank1"),
        ("hold.released", "mia", "manager", "bank1"),
        ("release_request.approved", "mia", "manager", "bank1")]
    created, released, approved = entries
    assert created.reason == "the bank says the notice was wrong" and created.before is None
    assert created.after is not None and created.after["state"] == "pending" and created.request_id == "req-sam"
    assert released.target_type == "case" and released.target_id == case_id
    assert released.reason == "checked the bank's letter"
    assert released.before is not None and released.after is not None
    assert released.before["status"] == "on_hold" and released.after["status"] == "active"
    assert [h["reason"] for h in released.before["holds"]] == ["deceased"]
    assert released.after["released"][0]["released_by"] == "mia"
    assert (released.after["requested_by"], released.after["request_reason"], released.after["release_request"]) == (
        "sam", "the bank says the notice was wrong", asked.id)
    assert approved.before is not None and approved.after is not None
    assert (approved.before["state"], approved.after["state"]) == ("pending", "approved")
    assert rig.pushed == []  # only a recording's legal hold is pushed to the store


async def test_the_requester_never_approves_and_another_client_sees_nothing(rig: Rig) -> None:
    case_id = await rig.case()
    asked = await rig.svc.request(MIA, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased",
                                                       reason="asked by a manager"), actor=act(MIA))
    with pytest.raises(SamePerson):
        await rig.svc.approve(MIA, asked.id, reason="my own", actor=act(MIA))
    for p in (MO, SUE):  # another bank's manager; a supervisor of another team
        with pytest.raises(NoSuchReleaseRequest):
            await rig.svc.get(p, asked.id)
        assert (await rig.svc.list(p, ReleaseRequestQuery())).items == []
    with pytest.raises(NoSuchReleaseRequest):
        await rig.svc.approve(MO, asked.id, reason="not mine", actor=act(MO))
    with pytest.raises(Forbidden):  # supervisors ask, they do not decide
        await rig.svc.approve(SAM, asked.id, reason="I am not a manager", actor=act(SAM))
    with pytest.raises(Forbidden):  # agents do not ask
        await rig.svc.request(ALICE, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased",
                                                     reason="let me call"), actor=act(ALICE))
    assert await rig.holds(case_id) == [("deceased", None)]
    assert [r.id for r in (await rig.svc.list(SAM, ReleaseRequestQuery())).items] == [asked.id]
    done = await rig.svc.approve(ADA, asked.id, reason="a global admin", actor=act(ADA))
    assert done.state == "approved" and await rig.holds(case_id) == [("deceased", "ada")]


async def test_a_case_or_recording_the_asker_may_not_see_is_404(rig: Rig) -> None:
    theirs = await rig.case("B-1", client="bank2")
    other_team = await rig.case("T-2", team="t2")
    with pytest.raises(NoSuchCase):
        await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=theirs, hold_reason="deceased",
                                                   reason="not my bank"), actor=act(SAM))
    with pytest.raises(NoSuchCase):
        await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=other_team, hold_reason="deceased",
                                                   reason="not my team"), actor=act(SAM))
    await rig.recording("r2", client="bank2")
    with pytest.raises(NoSuchRecording):
        await rig.svc.request(MIA, RecordingHoldRelease(kind="recording_legal_hold", recording_id="r2",
                                                        reason="not my bank"), actor=act(MIA))
    assert await rig.audit() == []


async def test_one_pending_request_per_release_and_nothing_to_release(rig: Rig) -> None:
    case_id = await rig.case()
    body = CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased", reason="first ask")
    first = await rig.svc.request(SAM, body, actor=act(SAM))
    with pytest.raises(AlreadyRequested) as dup:
        await rig.svc.request(MIA, body, actor=act(MIA))
    assert dup.value.details == {"request_id": first.id}
    with pytest.raises(NothingToRelease):
        await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="attorney",
                                                   reason="no such hold"), actor=act(SAM))
    rej = await rig.svc.reject(MIA, first.id, reason="the letter is not signed", actor=act(MIA))
    assert (rej.state, rej.decided_by) == ("rejected", "mia")
    assert await rig.holds(case_id) == [("deceased", None)]  # a rejection releases nothing
    again = await rig.svc.request(SAM, body, actor=act(SAM))  # a decided request no longer blocks a new one
    async with rig.db.begin() as s:  # the case system lifts the stop itself meanwhile
        hold = (await s.scalars(select(CaseHold).where(CaseHold.case_id == case_id))).one()
        hold.released_at, hold.released_by = T0, "casesys"
    with pytest.raises(NothingToRelease):
        await rig.svc.approve(MIA, again.id, reason="too late", actor=act(MIA))
    assert (await rig.svc.get(MIA, again.id)).state == "pending"  # nothing happened, nothing recorded
    assert [e.action for e in await rig.audit(target_id=again.id)] == ["release_request.created"]


async def test_requests_expire(rig: Rig) -> None:
    case_id = await rig.case()
    asked = await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased",
                                                       reason="before the week ends"), actor=act(SAM))
    rig.clock.advance(days=7)
    with pytest.raises(RequestExpired):
        await rig.svc.approve(MIA, asked.id, reason="a week later", actor=act(MIA))
    assert (await rig.svc.get(MIA, asked.id)).state == "expired"
    assert [r.id for r in (await rig.svc.list(MIA, ReleaseRequestQuery(state="expired"))).items] == [asked.id]
    assert (await rig.svc.list(MIA, ReleaseRequestQuery(state="pending"))).items == []
    renewed = await rig.svc.request(SAM, CaseHoldRelease(kind="case_hold", case_id=case_id, hold_reason="deceased",
                                                         reason="asked again"), actor=act(SAM))
    assert [r.id for r in (await rig.svc.list(MIA, ReleaseRequestQuery(state="pending"))).items] == [renewed.id]
    assert await rig.holds(case_id) == [("deceased", None)]


async def test_a_do_not_call_number_goes_back_to_valid_by_two_people(rig: Rig) -> None:
    case_id = await rig.case(hold=None, number_status="do_not_call")
    with pytest.raises(NoSuchContact):
        await rig.svc.request(SAM, NumberRelease(kind="do_not_call_number", case_id=case_id, number="+8613900000000",
                                                 reason="not on the case"), actor=act(SAM))
    asked = await rig.svc.request(SAM, NumberRelease(kind="do_not_call_number", case_id=case_id, number=NUMBER,
                                                     reason="the debtor asked to be called again"), actor=act(SAM))
    await rig.svc.approve(MAX, asked.id, reason="signed consent on file", actor=act(MAX))
    async with rig.db.read() as s:
        contact = (await s.scalars(select(CaseContact).where(CaseContact.case_id == case_id))).one()
    assert (contact.status, contact.status_source) == ("valid", "approval")
    changed = (await rig.audit(action="case_number.changed"))[0]
    assert changed.before is not None and changed.after is not None
    assert (changed.before["status"], changed.after["status"], changed.after["approved_by"]) == (
        "do_not_call", "valid", "max")
    with pytest.raises(NothingToRelease):  # valid already
        await rig.svc.request(SAM, NumberRelease(kind="do_not_call_number", case_id=case_id, number=NUMBER,
                                                 reason="again"), actor=act(SAM))


async def test_a_recordings_legal_hold_is_released_and_pushed(rig: Rig) -> None:
    rid = await rig.recording()
    asked = await rig.svc.request(SAM, RecordingHoldRelease(kind="recording_legal_hold", recording_id=rid,
                                                            reason="the dispute was settled"), actor=act(SAM))
    assert (asked.client_id, asked.recording_id) == ("bank1", rid)
    await rig.svc.approve(MIA, asked.id, reason="legal agrees", actor=act(MIA))
    async with rig.db.read() as s:
        rec = await s.get(Recording, rid)
    assert rec is not None and rec.legal_hold is False and rec.hold_synced is False
    assert rig.pushed == [1]
    (released,) = await rig.audit(action="recording.legal_hold_released")
    assert released.before is not None and released.after is not None
    assert (released.target_id, released.before["legal_hold"], released.after["legal_hold"]) == (rid, True, False)
    await rig.recording("r-nobody", client=None)  # a manual dial's recording: the platform's (a global admin's)
    with pytest.raises(NoSuchRecording):
        await rig.svc.request(MIA, RecordingHoldRelease(kind="recording_legal_hold", recording_id="r-nobody",
                                                        reason="not a bank's"), actor=act(MIA))
