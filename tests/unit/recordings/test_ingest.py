"""Ingest on a real database, store and ffmpeg: stereo result, empty and bad files, crash safety,
storage outages, multi-instance claims."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from auth.models import Role
from auth.service import Principal
from compliance.models import ClientPolicy
from core.events import EventLog
from dialer.models import Call
from recordings import barge
from recordings.errors import IngestFault, NotFailed
from recordings.models import Recording
from recordings.service import Requester, on_call_state
from recordings.tone import detect_tone
from tests.unit.recordings.conftest import Rig

OPERATOR = Principal("ops", Role.ADMIN)  # a global admin: sees every gap


class Killed(BaseException):
    """The process dies at this point (nothing after it runs, no except clause catches it)."""


async def _row(rig: Rig, call_id: str) -> Recording:
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
    assert rec is not None
    return rec


async def test_row_exists_from_agent_answer_and_goes_pending_at_call_end(rig: Rig) -> None:
    call = await rig.add_call(ended=False)
    async with rig.feature() as f:
        async with rig.db.begin() as s:
            got = await s.get(type(call), call.id)
            assert got is not None
            rec = await f.service.on_call_state(s, got)
        assert rec is not None and rec.state == "recording"
        assert (rec.agent_id, rec.team, rec.case_id) == ("alice", "t1", "case-1")
        async with rig.db.begin() as s:
            got = await s.get(type(call), call.id)
            assert got is not None
            got.ended_at, got.end_reason = rig.clock.now(), "completed"
            again = await f.service.on_call_state(s, got)
        assert again is not None and again.id == rec.id and again.state == "pending"
        assert again.outcome == "completed"
    assert len(await rig.events("recording.started")) == 1


async def test_stored_stereo_recording_agent_left_customer_right(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id, seconds=2.0)
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "stored"
    rec = await _row(rig, call.id)
    assert rec.state == "stored" and rec.channels == 2 and rec.format == "opus"
    assert rec.key == f"recordings/2026/05/04/{call.id}.ogg"
    assert rec.retain_until == call.ended_at + timedelta(days=730)  # type: ignore[operator]
    assert rec.duration_s == pytest.approx(2.0, abs=0.01)
    stored = rig.store.root / rec.key
    left = detect_tone(stored, 600, 0)
    right = detect_tone(stored, 1000, 1)
    assert left.present and right.present
    assert not detect_tone(stored, 1000, 0).present and not detect_tone(stored, 600, 1).present
    assert rig.spool_names() == set()  # deleted only after the stored commit
    [event] = await rig.events("recording.stored")
    assert event.payload["recording_id"] == rec.id and event.payload["sha256"] == rec.sha256
    assert event.case_id == "case-1" and event.call_id == call.id


async def test_client_retention_extends_and_mixed_mono_by_config(rig: Rig) -> None:
    call = await rig.add_call(client="bank-a")
    async with rig.db.begin() as s:
        s.add(ClientPolicy(client_id="bank-a", jurisdiction="CN", policy={}, retention_days=1095, updated_by="t"))
    rig.write_legs(call.id)
    async with rig.feature(stereo=False, format="mp3", bitrate="32k") as f:
        assert await f.ingest.ingest(call.id) == "stored"
    rec = await _row(rig, call.id)
    assert rec.retain_until == call.ended_at + timedelta(days=1095)  # type: ignore[operator]
    assert rec.channels == 1 and rec.key is not None and rec.key.endswith(".mp3")
    assert rec.content_type == "audio/mpeg"


async def test_empty_recording_keeps_no_file(rig: Rig) -> None:
    call = await rig.add_call(answered=False)
    rig.write_legs(call.id, empty=True)
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "empty"
    rec = await _row(rig, call.id)
    assert rec.state == "empty" and rec.key is None
    assert rig.store.puts == [] and rig.spool_names() == set()


async def test_invalid_file_fails_and_keeps_the_spool_files(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    (rig.spool / f"{call.id}-rx.wav").write_bytes(b"not a wav at all, just text")
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "failed"
        assert await f.ingest.scan_once() == 0  # failed rows are not retried by the scan
    rec = await _row(rig, call.id)
    assert rec.state == "failed" and "invalid recording" in (rec.last_error or "")
    assert f"{call.id}-rx.wav" in rig.spool_names() and f"{call.id}.done" in rig.spool_names()
    assert len(await rig.events("recording.failed")) == 1


async def test_marker_without_call_is_stored_as_orphan(rig: Rig) -> None:
    rig.write_legs("stray-recording")
    async with rig.feature() as f:
        assert await f.ingest.scan_once() == 1
        counts = await f.reconciler.run_once()
    rec = await _row(rig, "stray-recording")
    assert rec.kind == "orphan" and rec.state == "stored"
    assert counts["new_orphans"] == 1
    gaps = await f.reconciler.gaps(OPERATOR)
    assert [(g.kind, g.ref) for g in gaps] == [("orphan", "stray-recording")]


@pytest.mark.parametrize("step", ["put", "verified"])
async def test_crash_after_put_before_db_update_stores_once(rig: Rig, step: str) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)

    async def crash(at: str) -> None:
        if at == step:
            raise Killed(at)

    async with rig.feature(fault=crash) as f:
        with pytest.raises(Killed):
            await f.ingest.ingest(call.id)
    rec = await _row(rig, call.id)
    assert rec.state == "pending" and rec.lease_owner == "i1"  # the dead run's lease
    assert len(rig.spool_names()) == 4  # nothing deleted
    async with rig.feature() as f:  # restart: same instance name releases its old lease
        assert await f.ingest.scan_once() == 1
    rec = await _row(rig, call.id)
    assert rec.state == "stored"
    assert rig.store.puts == [rec.key, rec.key]  # put twice, stored once (idempotent, same bytes)
    files = [p for p in (rig.store.root / "recordings").rglob("*") if p.is_file()]
    assert files == [rig.store.root / str(rec.key)]
    assert len(await rig.events("recording.stored")) == 1
    assert rig.spool_names() == set()


async def test_task_cancelled_mid_ingest_then_restart(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    reached = asyncio.Event()

    async def hang(at: str) -> None:
        if at == "put":
            reached.set()
            await asyncio.Event().wait()

    async with rig.feature(fault=hang) as f:
        task = asyncio.create_task(f.ingest.ingest(call.id))
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with rig.feature() as f:
        await f.ingest.scan_once()
    assert (await _row(rig, call.id)).state == "stored"
    assert len(await rig.events("recording.stored")) == 1


async def test_crash_after_commit_before_spool_delete_only_cleans_up(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)

    async def crash(at: str) -> None:
        if at == "marked":
            raise Killed(at)

    async with rig.feature(fault=crash) as f:
        with pytest.raises(Killed):
            await f.ingest.ingest(call.id)
    assert (await _row(rig, call.id)).state == "stored" and len(rig.spool_names()) == 4
    async with rig.feature() as f:
        assert await f.ingest.ingest(call.id) == "cleaned"
    assert rig.spool_names() == set() and len(rig.store.puts) == 1
    assert len(await rig.events("recording.stored")) == 1


async def test_storage_outage_keeps_pending_then_stores_when_back(rig: Rig) -> None:
    calls = [await rig.add_call() for _ in range(3)]
    for c in calls:
        rig.write_legs(c.id)
    rig.store.down = True
    async with rig.feature() as f:
        await f.check_health()
        assert await f.ingest.scan_once() == 3
        for c in calls:
            rec = await _row(rig, c.id)
            assert rec.state == "pending" and rec.next_attempt_at is not None
            assert "storage unavailable" in (rec.last_error or "")
        ready = await f.readiness()
        assert ready["ok"] is False and ready["storage"]["status"] == "down" and ready["pending"] == 3
        assert await f.ingest.scan_once() == 0  # backing off
        assert len(rig.spool_names()) == 12  # nothing lost
        rig.store.down = False
        await f.check_health()  # storage back: waiting recordings become due at once
        assert await f.ingest.scan_once() == 3
        ready = await f.readiness()
        assert ready["ok"] is True and ready["pending"] == 0
    for c in calls:
        assert (await _row(rig, c.id)).state == "stored"
    assert rig.spool_names() == set()


async def test_another_instances_live_lease_is_respected_and_two_instances_store_once(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    async with rig.db.begin() as s:
        got = await s.get(Call, call.id)
        assert got is not None
        rec = await on_call_state(s, got, events=EventLog(), now=rig.clock.now())
        assert rec is not None
        rec.lease_owner, rec.lease_until = "other", rig.clock.now() + timedelta(seconds=30)
    async with rig.feature("i1") as f1, rig.feature("i2") as f2:
        assert await f1.ingest.scan_once() == 0
        rig.clock.advance(seconds=31)  # the other instance died: its lease expires
        results = await asyncio.gather(f1.ingest.ingest(call.id), f2.ingest.ingest(call.id))
    assert sorted(str(r) for r in results).count("stored") == 1
    assert len(await rig.events("recording.stored")) == 1


async def test_disk_nearly_full_is_reported_not_a_crash(rig: Rig, tmp_path: Path) -> None:
    async with rig.feature(min_free_bytes=1 << 62) as f:
        await f.check_health()
        ready = await f.readiness()
    assert ready["ok"] is False and ready["disk"]["ok"] is False and ready["disk"]["free_bytes"] > 0


async def test_unexpected_error_is_a_counted_retry_not_a_crash(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)

    async def boom(at: str) -> None:
        if at == "put":
            raise IngestFault("bug")

    async with rig.feature(fault=boom, max_attempts=2) as f:
        assert await f.ingest.ingest(call.id) == "pending"
        rec = await _row(rig, call.id)
        assert rec.attempts == 1 and rec.next_attempt_at is not None and rec.lease_owner is None
        rig.clock.advance(seconds=5)
        assert await f.ingest.ingest(call.id) == "failed"  # max_attempts reached; files kept
    assert len(rig.spool_names()) == 4


async def test_retry_of_a_recording_failed_after_max_attempts_then_stored(rig: Rig) -> None:
    call = await rig.add_call()
    rig.write_legs(call.id)
    broken = True

    async def storage_bug(at: str) -> None:
        if at == "put" and broken:
            raise IngestFault("bug")

    sam = Requester(Principal("sam", Role.SUPERVISOR, clients=frozenset({"bank-a"})))
    async with rig.feature(fault=storage_bug, max_attempts=2) as f:
        assert await f.ingest.ingest(call.id) == "pending"
        rig.clock.advance(seconds=5)
        assert await f.ingest.ingest(call.id) == "failed"
        assert await f.ingest.scan_once() == 0  # failed: never picked up again by itself
        rec = await _row(rig, call.id)
        assert rec.attempts == 2
        broken = False  # the cause is fixed
        # two operators at once: exactly one retry happens, the other is told it is no longer failed
        results = await asyncio.gather(f.service.retry(sam, rec.id, "storage bug fixed"),
                                       f.service.retry(sam, rec.id, "storage bug fixed"), return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["NotFailed", "Recording"]
        rec = await _row(rig, call.id)
        assert (rec.state, rec.attempts, rec.next_attempt_at) == ("pending", 0, rig.clock.now())
        assert await f.ingest.scan_once() == 1
        with pytest.raises(NotFailed):
            await f.service.retry(sam, rec.id, "stored already")
    rec = await _row(rig, call.id)
    assert rec.state == "stored" and rec.attempts == 0 and rec.last_error is None
    assert rig.spool_names() == set()
    assert len(await rig.events("recording.retried")) == 1 and len(await rig.events("recording.stored")) == 1


async def test_claim_waits_for_its_file_checks_outside_the_transaction(rig: Rig,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim's file checks run on the ingest's threads, which may be busy transcoding other recordings for
    seconds; meanwhile the claim holds no transaction, so other writers (the calls' PBX events) go on: on
    SQLite a write transaction holds the process's write lock, and this write would wait for it."""
    call, other = await rig.add_call(), await rig.add_call(call_id="11111111-2222-3333-4444-555555555555")
    rig.write_legs(call.id)
    entered, release = threading.Event(), threading.Event()
    closed = barge.stints_closed

    def slow_check(spool: Path, call_id: str, now: float) -> bool:
        entered.set()
        release.wait()
        return closed(spool, call_id, now)

    monkeypatch.setattr(barge, "stints_closed", slow_check)
    async with rig.feature() as f:
        task = asyncio.create_task(f.ingest.ingest(call.id))
        try:
            await asyncio.to_thread(entered.wait)
            async with rig.db.begin() as s:  # while the claim's check still waits for its thread
                row = await s.get(Call, other.id)
                assert row is not None
                row.outcome = "promise"
        finally:
            release.set()
        assert await task == "stored"
    async with rig.db.read() as s:
        row = await s.get(Call, other.id)
        assert row is not None and row.outcome == "promise"
