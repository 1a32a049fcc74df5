"""Retention against a real SQLite database and a scripted store: what is purged, what is refused, holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from auth.models import Role
from auth.service import Principal
from config.settings import load_settings
from core.clock import FakeClock
from core.errors import TwoPersonRule
from core.events import EventLog
from core.models import DomainEventRow
from db.engine import Database
from recordings.errors import NotStored, RecordingAccessDenied, RetentionActive
from recordings.models import Recording, RecordingAccess
from recordings.retention import Retention, hold_recording, is_expired, legal_hold_case, release_legal_hold
from recordings.service import RecordingService, Requester
from recordings.states import RecordingState
from recordings.storage import ObjectNotFound, StorageUnavailable
from tests.support.db_support import open_database

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
ADMIN = Requester(Principal(user_id="ada", role=Role.ADMIN))
SUPERVISOR = Requester(Principal(user_id="sam", role=Role.SUPERVISOR, clients=frozenset({"bank-a"})))
MANAGER = Principal(user_id="max", role=Role.MANAGER, clients=frozenset({"bank-a"}))


@dataclass
class ScriptedStore:
    """Records deletes and hold pushes; ``missing`` keys raise ObjectNotFound, ``down`` an outage."""

    down: bool = False
    missing: set[str] = field(default_factory=set)
    deleted: list[tuple[str, str | None]] = field(default_factory=list)
    holds: list[tuple[str, bool, str | None]] = field(default_factory=list)

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        if key in self.missing:
            raise ObjectNotFound(key)
        self.deleted.append((key, version_id))

    async def set_legal_hold(self, key: str, on: bool, *, version_id: str | None = None) -> None:
        if self.down:
            raise StorageUnavailable("injected outage")
        self.holds.append((key, on, version_id))


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    store: ScriptedStore
    events: EventLog
    retention: Retention
    published: list[int]

    async def add(self, rid: str, *, state: RecordingState = RecordingState.STORED, days: int = 10,
                  hold: bool = False, key: str | None = "k", case: str = "case-1", synced: bool = True) -> None:
        async with self.db.begin() as s:
            s.add(Recording(id=rid, call_id=f"call-{rid}", state=state.value, case_id=case, agent_id="alice",
                            client_id="bank-a",
                            key=None if key is None else f"{key}/{rid}", version_id=f"v-{rid}",
                            retain_until=T0 + timedelta(days=days), legal_hold=hold, hold_synced=synced,
                            created_at=T0, updated_at=T0))

    async def get(self, rid: str) -> Recording:
        async with self.db.read() as s:
            rec = await s.get(Recording, rid)
        assert rec is not None
        return rec

    async def events_of(self, type_: str) -> list[DomainEventRow]:
        async with self.db.read() as s:
            return list((await s.scalars(select(DomainEventRow).where(DomainEventRow.type == type_)
                                         .order_by(DomainEventRow.id))).all())

    async def audit(self) -> list[AuditEntry]:
        async with self.db.read() as s:
            return list((await s.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id))).all())

    async def access(self) -> list[RecordingAccess]:
        async with self.db.read() as s:
            return list((await s.scalars(select(RecordingAccess).order_by(RecordingAccess.id))).all())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path}/retention.db")
    async with db:
        clock = FakeClock(T0)
        store = ScriptedStore()
        events = EventLog()
        published: list[int] = []
        events.add_commit_listener(lambda: published.append(1))
        settings = load_settings(None, database={"url": db.url})
        service = RecordingService(db=db, events=events, clock=clock, settings=settings.recordings,
                                   store=store)
        retention = Retention(db=db, events=events, clock=clock, store=store,
                              service=service)
        yield Rig(db, clock, store, events, retention, published)


def _rec(**kw: object) -> Recording:
    base: dict[str, object] = {"state": RecordingState.STORED.value, "legal_hold": False, "retain_until": T0}
    return Recording(**{**base, **kw})


def test_expiry_needs_stored_past_retention_and_no_hold():
    assert is_expired(_rec(), T0)  # the retention end itself is already past
    assert not is_expired(_rec(), T0 - timedelta(seconds=1))
    assert not is_expired(_rec(legal_hold=True), T0 + timedelta(days=1))
    assert not is_expired(_rec(retain_until=None), T0 + timedelta(days=1))
    assert not is_expired(_rec(state=RecordingState.PURGED.value), T0 + timedelta(days=1))
    assert not is_expired(_rec(state=RecordingState.PENDING.value), T0 + timedelta(days=1))


async def test_purge_deletes_exactly_the_expired_unheld_stored_ones(rig: Rig):
    await rig.add("old", days=1)
    await rig.add("gone", days=1)
    await rig.add("held", days=1, hold=True)
    await rig.add("young", days=30)
    await rig.add("failed", days=1, state=RecordingState.FAILED)
    rig.store.missing.add("k/gone")  # already deleted from the store: still purged, with a warning
    rig.clock.advance(days=1)  # exactly the end of retention of the 1-day ones
    assert await rig.retention.purge_expired() == 2
    assert rig.store.deleted == [("k/old", "v-old")]
    for rid in ("old", "gone"):
        rec = await rig.get(rid)
        assert rec.state == RecordingState.PURGED.value
        assert rec.purged_at == rec.updated_at == T0 + timedelta(days=1)
    for rid, state in (("held", "stored"), ("young", "stored"), ("failed", "failed")):
        assert (await rig.get(rid)).state == state
    purged = await rig.events_of("recording.purged")
    assert sorted(str(e.call_id) for e in purged) == ["call-gone", "call-old"]
    assert {e.payload["by"] for e in purged} == {"retention-job"}
    assert all(e.occurred_at == T0 + timedelta(days=1) for e in purged)
    assert len(rig.published) == 2  # listeners hear of each purge once it is committed
    assert await rig.retention.purge_expired() == 0


async def test_purge_takes_at_most_limit_per_run(rig: Rig):
    for n in range(3):
        await rig.add(f"r{n}", days=1)
    rig.clock.advance(days=2)
    assert await rig.retention.purge_expired(limit=2) == 2
    assert await rig.retention.purge_expired(limit=2) == 1
    assert len(rig.store.deleted) == 3


async def test_purge_of_a_row_held_after_listing_does_nothing(rig: Rig):
    await rig.add("r", days=1)
    rig.clock.advance(days=2)
    assert await rig.retention._purge("r", actor="x") is True
    assert await rig.retention._purge("r", actor="x") is False  # already purged
    assert await rig.retention._purge("nope", actor="x") is False
    assert rig.store.deleted == [("k/r", "v-r")]


async def test_api_delete_is_refused_under_retention_and_for_non_stored(rig: Rig):
    await rig.add("r", days=5)
    await rig.add("held", days=-5, hold=True)
    await rig.add("up", state=RecordingState.PENDING)
    with pytest.raises(RetentionActive) as active:
        await rig.retention.delete(ADMIN, "r")
    assert active.value.details == {"recording_id": "r", "legal_hold": False,
                                    "retain_until": (T0 + timedelta(days=5)).isoformat()}
    with pytest.raises(RetentionActive) as held:
        await rig.retention.delete(ADMIN, "held")
    assert held.value.details["legal_hold"] is True
    with pytest.raises(NotStored) as not_stored:
        await rig.retention.delete(ADMIN, "up")
    assert not_stored.value.details == {"recording_id": "up"} and "pending" in not_stored.value.message
    assert rig.store.deleted == []


async def test_api_delete_after_retention_purges_in_the_admins_name(rig: Rig):
    await rig.add("r", days=5)
    rig.clock.advance(days=5)
    got = await rig.retention.delete(ADMIN, "r")
    assert got.id == "r" and got.state == RecordingState.PURGED.value
    assert rig.store.deleted == [("k/r", "v-r")]
    assert [e.payload["by"] for e in await rig.events_of("recording.purged")] == ["ada"]


async def test_api_legal_hold_is_recorded_evented_and_pushed(rig: Rig):
    await rig.add("r")
    got = await rig.retention.set_legal_hold(SUPERVISOR, "r", True)
    assert got.legal_hold is True and got.hold_synced is True
    assert rig.store.holds == [("k/r", True, "v-r")]
    changed = await rig.events_of("recording.legal_hold_changed")
    assert [(e.payload["legal_hold"], e.payload["by"]) for e in changed] == [(True, "sam")]
    assert rig.published == [1]
    await rig.retention.set_legal_hold(SUPERVISOR, "r", True)  # unchanged: no event, nothing to push
    assert len(await rig.events_of("recording.legal_hold_changed")) == 1 and len(rig.store.holds) == 1
    audited = await rig.audit()
    assert [(e.action, e.actor_id, e.client_id, e.before["legal_hold"], e.after["legal_hold"]) for e in audited] == [
        ("recording.legal_hold_set", "sam", "bank-a", False, True)]
    rig.clock.advance(hours=1)
    rig.store.down = True
    with pytest.raises(TwoPersonRule) as refused:  # one person alone never releases it
        await rig.retention.set_legal_hold(SUPERVISOR, "r", False)
    assert refused.value.details["request"] == {"kind": "recording_legal_hold", "recording_id": "r"}
    assert (await rig.get("r")).legal_hold is True and len(await rig.audit()) == 1
    async with rig.db.begin() as s:  # an approved two-person request
        rec = await s.get(Recording, "r")
        assert rec is not None
        assert await release_legal_hold(s, rec, who=MANAGER, remote=None, events=rig.events,
                                        now=rig.clock.now(), detail="request q1")
        assert not await release_legal_hold(s, rec, who=MANAGER, remote=None, events=rig.events,
                                            now=rig.clock.now(), detail="request q1")  # not held any more
    got = await rig.get("r")
    assert got.legal_hold is False and got.hold_synced is False  # pushed later, by sync_holds
    assert got.updated_at == T0 + timedelta(hours=1)
    changed = await rig.events_of("recording.legal_hold_changed")
    assert [(e.payload["legal_hold"], e.payload["by"]) for e in changed] == [(True, "sam"), (False, "max")]
    assert (await rig.access())[-1].detail == "off (request q1)"


async def test_sync_holds_pushes_unsynced_stored_rows_and_stops_at_an_outage(rig: Rig):
    await rig.add("a", hold=True, synced=False)
    await rig.add("b", hold=False, synced=False)
    await rig.add("nokey", hold=True, synced=False, key=None)
    await rig.add("purged", hold=True, synced=False, state=RecordingState.PURGED)
    await rig.add("done", hold=True, synced=True)
    assert await rig.retention.sync_holds() == 2
    assert sorted(rig.store.holds) == [("k/a", True, "v-a"), ("k/b", False, "v-b")]
    assert (await rig.get("a")).hold_synced and (await rig.get("b")).hold_synced
    assert not (await rig.get("nokey")).hold_synced and not (await rig.get("purged")).hold_synced
    assert await rig.retention.sync_holds() == 0
    await rig.add("c", hold=True, synced=False)
    rig.store.down = True
    assert await rig.retention.sync_holds() == 0
    assert not (await rig.get("c")).hold_synced


async def test_a_hold_of_the_whole_case_marks_logs_and_events_each_recording(rig: Rig):
    await rig.add("a")
    await rig.add("b")
    await rig.add("other", case="case-2")
    at = T0 + timedelta(minutes=3)
    actor = "cases-service-" + "x" * 80
    async with rig.db.begin() as s:
        assert await legal_hold_case(s, "case-1", True, actor, events=rig.events, now=at) == 2
    async with rig.db.begin() as s:
        assert await legal_hold_case(s, "case-1", True, actor, events=rig.events, now=at) == 0
    for rid in ("a", "b"):
        rec = await rig.get(rid)
        assert rec.legal_hold and not rec.hold_synced and rec.updated_at == at
    assert not (await rig.get("other")).legal_hold
    log = await rig.access()
    assert sorted(str(e.recording_id) for e in log) == ["a", "b"]
    assert {(e.user_id, e.action, e.result, e.detail, e.at) for e in log} == {
        (actor[:64], "legal_hold", "granted", "on (case case-1)", at)}
    changed = await rig.events_of("recording.legal_hold_changed")
    assert len(changed) == 2 and {(e.payload["legal_hold"], e.payload["by"]) for e in changed} == {(True, actor)}
    with pytest.raises(ValueError, match="two-person"):  # a case's holds are never lifted wholesale
        async with rig.db.begin() as s:
            await legal_hold_case(s, "case-1", False, "cases-service")
    assert all([(await rig.get(rid)).legal_hold for rid in ("a", "b")])
    async with rig.db.begin() as s:
        assert await legal_hold_case(s, "case-2", True, "cases-service") == 1  # no event log given
    assert {e.detail for e in await rig.access()} == {"on (case case-1)", "on (case case-2)"}
    assert len(await rig.events_of("recording.legal_hold_changed")) == 2
    assert await rig.retention.sync_holds() == 3


async def test_held_rows_do_not_use_up_the_purge_limit(rig: Rig):
    await rig.add("a-held", days=1, hold=True)
    await rig.add("b-free", days=1)
    rig.clock.advance(days=2)
    assert await rig.retention.purge_expired(limit=1) == 1
    assert (await rig.get("b-free")).state == RecordingState.PURGED.value


async def test_deletes_and_holds_are_checked_and_logged_under_their_own_action(rig: Rig):
    await rig.add("r", days=1)
    rig.clock.advance(days=2)
    with pytest.raises(RecordingAccessDenied):
        await rig.retention.delete(SUPERVISOR, "r")  # only an admin deletes
    with pytest.raises(RecordingAccessDenied):
        owner = Principal(user_id="alice", role=Role.AGENT, clients=frozenset({"bank-a"}))  # sees it, may not hold it
        await rig.retention.set_legal_hold(Requester(owner), "r", True)
    assert (await rig.retention.set_legal_hold(SUPERVISOR, "r", False)).legal_hold is False  # not held: no-op
    await rig.retention.set_legal_hold(SUPERVISOR, "r", True)
    with pytest.raises(TwoPersonRule):
        await rig.retention.set_legal_hold(SUPERVISOR, "r", False)
    with pytest.raises(RetentionActive):
        await rig.retention.delete(ADMIN, "r")
    async with rig.db.begin() as s:
        rec = await s.get(Recording, "r")
        assert rec is not None
        await release_legal_hold(s, rec, who=MANAGER, remote="10.0.0.9", events=rig.events, now=rig.clock.now(),
                                 detail="request q2")
    await rig.retention.delete(ADMIN, "r")
    assert [(e.user_id, e.action, e.result, e.detail) for e in await rig.access()] == [
        ("sam", "delete", "denied", None), ("alice", "legal_hold", "denied", "on"),
        ("sam", "legal_hold", "granted", "off: not held"), ("sam", "legal_hold", "granted", "on"),
        ("sam", "legal_hold", "granted", "off: refused, two-person rule"), ("ada", "delete", "granted", None),
        ("max", "legal_hold", "granted", "off (request q2)"), ("ada", "delete", "granted", None)]


async def test_a_case_hold_is_logged_as_the_integration(rig: Rig):
    await rig.add("a")
    async with rig.db.begin() as s:
        await legal_hold_case(s, "case-1", True, "cases", events=rig.events)
    (entry,) = await rig.access()
    assert entry.role == str(Role.INTEGRATION)
    (event,) = await rig.events_of("recording.legal_hold_changed")
    assert event.occurred_at == entry.at


async def test_each_purge_is_logged_with_what_was_deleted(rig: Rig, caplog: pytest.LogCaptureFixture):
    await rig.add("r", days=1)
    await rig.add("g", days=1)
    rig.store.missing.add("k/g")
    rig.clock.advance(days=2)
    with caplog.at_level(logging.INFO, logger="recordings.retention"):
        await rig.retention.purge_expired()
    lines = [r.getMessage() for r in caplog.records]
    until = T0 + timedelta(days=1)
    assert f"recording r (call call-r, key k/r) purged by retention-job after retention until {until}" in lines
    assert "recording g: object k/g already gone at purge" in lines


async def test_hold_recording_says_whether_it_changed_anything(rig: Rig):
    await rig.add("r")
    async with rig.db.begin() as s:
        rec = await s.get(Recording, "r")
        assert rec is not None
        assert await hold_recording(s, rec, "cases", detail="case case-1") is True
        assert await hold_recording(s, rec, "cases", detail="case case-1") is False  # already held
    assert len(await rig.access()) == 1


async def test_an_access_log_detail_keeps_at_most_500_characters(rig: Rig):
    await rig.add("r")
    long = "q" * 600
    async with rig.db.begin() as s:
        rec = await s.get(Recording, "r")
        assert rec is not None
        await hold_recording(s, rec, "cases", detail=long)
        await release_legal_hold(s, rec, who=MANAGER, remote=None, events=rig.events, now=T0, detail=long)
    assert [len(e.detail or "") for e in await rig.access()] == [500, 500]


async def test_a_hold_set_through_the_api_is_audited_with_the_whole_hold_state(rig: Rig):
    await rig.add("r", days=7)
    await rig.add("forever")
    async with rig.db.begin() as s:  # no end of retention known yet
        rec = await s.get(Recording, "forever")
        assert rec is not None
        rec.retain_until = None
    rig.clock.advance(minutes=5)
    await rig.retention.set_legal_hold(SUPERVISOR, "r", True)
    await rig.retention.set_legal_hold(SUPERVISOR, "forever", True)
    state = {"state": "stored", "case_id": "case-1", "retain_until": (T0 + timedelta(days=7)).isoformat()}
    by_target = {e.target_id: e for e in await rig.audit()}  # one clock instant: the audit ids break the tie
    first, second = by_target["r"], by_target["forever"]
    assert (first.target_type, first.target_id) == ("recording", "r")
    assert first.before == {**state, "legal_hold": False, "call_id": "call-r"}
    assert first.after == {**state, "legal_hold": True, "call_id": "call-r"}
    assert second.after == {**state, "legal_hold": True, "call_id": "call-forever", "retain_until": None}
    changed = await rig.events_of("recording.legal_hold_changed")
    assert [e.occurred_at for e in changed] == [T0 + timedelta(minutes=5)] * 2  # the service's clock


async def test_a_release_is_logged_with_its_time_address_and_recording(rig: Rig):
    await rig.add("r", hold=True)
    at = T0 + timedelta(hours=2)
    async with rig.db.begin() as s:
        rec = await s.get(Recording, "r")
        assert rec is not None
        await release_legal_hold(s, rec, who=MANAGER, remote="10.0.0.9", events=rig.events, now=at,
                                 detail="request q3")
    (entry,) = await rig.access()
    assert (entry.at, entry.remote, entry.recording_id, entry.user_id) == (at, "10.0.0.9", "r", "max")
    (event,) = await rig.events_of("recording.legal_hold_changed")
    assert event.occurred_at == at and event.payload["legal_hold"] is False


async def test_refusals_explain_themselves(rig: Rig):
    await rig.add("r", days=5)
    await rig.add("forever")
    async with rig.db.begin() as s:
        rec = await s.get(Recording, "forever")
        assert rec is not None
        rec.retain_until = None
    with pytest.raises(RetentionActive) as active:
        await rig.retention.delete(ADMIN, "r")
    assert active.value.message == "the recording is under retention or legal hold"
    with pytest.raises(RetentionActive) as forever:
        await rig.retention.delete(ADMIN, "forever")
    assert forever.value.details == {"recording_id": "forever", "legal_hold": False, "retain_until": None}
    await rig.retention.set_legal_hold(SUPERVISOR, "r", True)
    with pytest.raises(TwoPersonRule) as two:
        await rig.retention.set_legal_hold(SUPERVISOR, "r", False)
    assert two.value.message == ("a legal hold is released by two different people: ask for the release with a "
                                 "reason, and a manager approves it")
    with pytest.raises(ValueError) as wholesale:
        async with rig.db.begin() as s:
            await legal_hold_case(s, "case-1", False, "cases")
    assert str(wholesale.value) == ("a case's recordings are released from legal hold only through two-person "
                                    "requests")


async def test_sync_holds_skips_a_keyless_row_and_goes_on(rig: Rig):
    await rig.add("nokey", hold=True, synced=False, key=None)
    await rig.add("a", hold=True, synced=False)
    assert await rig.retention.sync_holds() == 1
    assert rig.store.holds == [("k/a", True, "v-a")]


async def test_sync_holds_pushes_at_most_500_rows_per_call(rig: Rig):
    async with rig.db.begin() as s:
        for n in range(501):
            s.add(Recording(id=f"r{n:03}", call_id=f"c{n}", state="stored", case_id="c", agent_id="alice",
                            client_id="bank-a", key=f"k/{n}", retain_until=T0, legal_hold=True, hold_synced=False,
                            created_at=T0, updated_at=T0))
    assert await rig.retention.sync_holds() == 500
    assert await rig.retention.sync_holds() == 1


async def test_a_hold_changed_while_it_is_pushed_stays_unsynced(rig: Rig):
    await rig.add("a", hold=True, synced=False)
    pushed = rig.store.set_legal_hold

    async def release_meanwhile(key: str, on: bool, *, version_id: str | None = None) -> None:
        await pushed(key, on, version_id=version_id)
        async with rig.db.begin() as s:  # an approved release commits while the old value is on its way
            rec = await s.get(Recording, "a")
            assert rec is not None
            rec.legal_hold, rec.hold_synced = False, False

    rig.store.set_legal_hold = release_meanwhile  # type: ignore[method-assign]
    assert await rig.retention.sync_holds() == 1
    assert not (await rig.get("a")).hold_synced  # the store holds the old value: push again
    rig.store.set_legal_hold = pushed  # type: ignore[method-assign]
    assert await rig.retention.sync_holds() == 1
    assert rig.store.holds == [("k/a", True, "v-a"), ("k/a", False, "v-a")] and (await rig.get("a")).hold_synced


async def test_an_outage_while_pushing_holds_is_logged_with_the_recording_and_the_cause(
        rig: Rig, caplog: pytest.LogCaptureFixture):
    await rig.add("c", hold=True, synced=False)
    rig.store.down = True
    with caplog.at_level(logging.WARNING, logger="recordings.retention"):
        assert await rig.retention.sync_holds() == 0
    assert [r.getMessage() for r in caplog.records] == ["legal hold of c not yet pushed to storage: injected outage"]


async def test_held_rows_never_fill_a_purge_page(rig: Rig):
    for n in range(5):
        await rig.add(f"held{n}", days=-n - 1, hold=True)
    await rig.add("free", days=1)
    rig.clock.advance(days=2)
    assert await rig.retention.purge_expired(limit=1) == 1
    assert (await rig.get("free")).state == RecordingState.PURGED.value
