"""The store scan for objects without a recording row, on a real database (SQLite and PostgreSQL) and a real
LocalStore: a page per run, resumable across runs, restarts and instances, never deleting anything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from auth.models import Role
from auth.service import Principal
from dialer.models import Call
from recordings.models import Recording, RecordingGap, RecordingStoreScan
from recordings.runtime import RecordingsFeature
from recordings.service import on_call_state
from recordings.storage import KeyPage, StorageRefused
from recordings.storage.local import LocalStore
from recordings.storescan import STORE_ORPHAN, StoreScan, call_id_of, fit
from tests.unit.recordings.conftest import Rig

OPERATOR = Principal("ops", Role.ADMIN)  # a global admin: sees every gap


def drop(rig: Rig, key: str, data: bytes = b"not ours") -> None:
    """An object that got into the store without the service (a restore, a hand copy, another system)."""
    path = rig.store.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def store_orphans(rig: Rig, *, open_only: bool = True) -> dict[str, str]:
    async with rig.db.read() as s:
        q = select(RecordingGap).where(RecordingGap.kind == STORE_ORPHAN)
        if open_only:
            q = q.where(RecordingGap.resolved_at.is_(None))
        return {g.ref: g.detail for g in await s.scalars(q)}


async def position(rig: Rig) -> RecordingStoreScan:
    async with rig.db.read() as s:
        row = await s.scalar(select(RecordingStoreScan))
    assert row is not None
    return row


async def stored_key(rig: Rig, f: RecordingsFeature) -> tuple[str, str]:
    c = await rig.add_call()
    rig.write_legs(c.id)
    assert await f.ingest.ingest(c.id) == "stored"
    async with rig.db.read() as s:
        rec = await s.scalar(select(Recording).where(Recording.call_id == c.id))
    assert rec is not None and rec.key is not None
    return c.id, rec.key


def test_call_id_of_and_fit() -> None:
    assert call_id_of("recordings/2026/05/04/abc-1.ogg") == "abc-1"
    assert call_id_of("recordings/2026/05/04/abc.1.ogg") == "abc.1"  # call ids may hold dots
    assert call_id_of("notes") == "notes"
    assert fit("k" * 10, 10) == "k" * 10
    long_a, long_b = fit("a" * 2000, 1024), fit("a" * 1999 + "b", 1024)
    assert len(long_a) == 1024 and long_a != long_b and long_a.startswith("a" * 900)
    assert fit("bad-\udcff-name", 64) == "bad-\\xff-name"  # an undecodable file name byte


async def test_a_page_per_run_finds_objects_without_a_row_and_deletes_nothing(rig: Rig) -> None:
    async with rig.feature(store_scan_page_size=2) as f:
        stored_id, stored = await stored_key(rig, f)
        pending = await rig.add_call()  # its ingest may have put the object without recording the key yet
        async with rig.db.begin() as s:
            got = await s.get(Call, pending.id)
            assert got is not None
            await on_call_state(s, got, events=f.events, now=rig.clock.now())
        drop(rig, f"recordings/2026/05/04/{pending.id}.ogg")
        drop(rig, f"recordings/2026/05/03/{stored_id}.ogg")  # a second object for a stored call
        drop(rig, "recordings/2026/05/04/ghost.ogg")
        drop(rig, "notes/readme.txt")
        files_before = sorted(p for p in rig.store.root.rglob("*") if p.is_file())
        counts = await f.reconciler.run_once()  # page 1: notes/readme.txt, recordings/2026/05/03/<stored>
        assert counts["new_store_orphans"] == 2
        row = await position(rig)
        assert (row.cursor, row.seq, row.passes, row.pass_keys) == (
            f"recordings/2026/05/03/{stored_id}.ogg", 1, 0, 2)
        assert (await f.reconciler.run_once())["new_store_orphans"] == 0  # page 2: <pending>, <stored> (uuids)
        assert (await f.reconciler.run_once())["new_store_orphans"] == 1  # page 3: ghost.ogg, the pass ends
        row = await position(rig)
        assert (row.cursor, row.passes, row.last_pass_keys) == (None, 1, 5)
        for _ in range(3):  # the second pass finds nothing new
            assert (await f.reconciler.run_once())["new_store_orphans"] == 0
        assert (await position(rig)).passes == 2
        gaps = await store_orphans(rig)
        assert set(gaps) == {"notes/readme.txt", "recordings/2026/05/04/ghost.ogg",
                             f"recordings/2026/05/03/{stored_id}.ogg"}
        assert gaps["notes/readme.txt"] == "object without a recording row"
        assert f"is stored with key {stored}" in gaps[f"recordings/2026/05/03/{stored_id}.ogg"]
        ready = await f.readiness()
        assert ready["store_orphans"] == 3 and ready["store_scan"]["passes"] == 2 and ready["ok"] is True
        listed = await f.reconciler.gaps(OPERATOR, kind=STORE_ORPHAN)
        assert {g.ref for g in listed} == set(gaps) and all(g.location == "store" for g in listed)
    assert sorted(p for p in rig.store.root.rglob("*") if p.is_file()) == files_before  # nothing deleted


async def test_the_position_survives_restarts_and_is_shared_by_instances(rig: Rig,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(7):
        drop(rig, f"stray/{i}.ogg")
    async with rig.feature("i1", store_scan_page_size=3) as f1:
        assert (await f1.reconciler.run_once())["new_store_orphans"] == 3
    async with rig.feature("i1", store_scan_page_size=3) as f1, rig.feature("i2", store_scan_page_size=3) as f2:
        assert (await f2.reconciler.run_once())["new_store_orphans"] == 3  # continues where i1 stopped
        assert (await f1.reconciler.run_once())["new_store_orphans"] == 1  # and i1 after i2: pass done
        assert set(await store_orphans(rig)) == {f"stray/{i}.ogg" for i in range(7)}
        row = await position(rig)
        assert (row.passes, row.last_pass_keys, row.seq) == (1, 7, 3)
        # two instances on the same position at once (both have listed before either commits): one page is
        # committed, the other dropped
        both_listed = asyncio.Barrier(2)
        list_keys = rig.store.list_keys

        async def racing(*, cursor: str | None = None, limit: int = 1000) -> KeyPage:
            page = await list_keys(cursor=cursor, limit=limit)
            await both_listed.wait()
            return page

        drop(rig, "stray/00.ogg")
        monkeypatch.setattr(rig.store, "list_keys", racing)
        results = await asyncio.gather(f1.reconciler.store_scan.scan_page(), f2.reconciler.store_scan.scan_page())
        assert sorted(r is None for r in results) == [False, True]
        assert [r.new_orphans for r in results if r is not None] == [1]
        assert (await position(rig)).seq == 4
        async with rig.db.read() as s:
            assert len((await s.scalars(select(RecordingGap.id).where(RecordingGap.ref == "stray/00.ogg"))).all()) == 1


async def test_several_pages_per_run_stop_at_the_end_of_a_pass(rig: Rig) -> None:
    for i in range(5):
        drop(rig, f"stray/{i}.ogg")
    async with rig.feature(store_scan_page_size=2, store_scan_pages_per_run=10) as f:
        assert (await f.reconciler.run_once())["new_store_orphans"] == 5
        row = await position(rig)
        assert (row.passes, row.seq, row.cursor) == (1, 3, None)
    async with rig.feature(store_scan_pages_per_run=0) as off:
        drop(rig, "stray/late.ogg")
        assert (await off.reconciler.run_once())["new_store_orphans"] == 0
        assert (await position(rig)).seq == 3


async def test_storage_outage_pauses_the_scan_where_it_was(rig: Rig) -> None:
    for i in range(3):
        drop(rig, f"stray/{i}.ogg")
    async with rig.feature(store_scan_page_size=2) as f:
        assert (await f.reconciler.run_once())["new_store_orphans"] == 2
        rig.store.down = True
        counts = await f.reconciler.run_once()  # the database checks still run
        assert counts["new_store_orphans"] == 0 and (await position(rig)).seq == 1
        assert (await f.reconciler.store_scan.status())["error"] == "injected outage"
        rig.store.down = False
        assert (await f.reconciler.run_once())["new_store_orphans"] == 1
        assert (await position(rig)).passes == 1


async def test_objects_of_a_lost_row_are_linked_again_by_a_late_ingest(rig: Rig) -> None:
    # the database was restored from a backup older than a recording: its object becomes a store-orphan
    async with rig.feature(store_scan_page_size=1000) as f:
        call_id, key = await stored_key(rig, f)
        async with rig.db.begin() as s:
            await s.execute(delete(Recording).where(Recording.call_id == call_id))
        await f.reconciler.store_scan.scan_page()
        assert set(await store_orphans(rig)) == {key}
        rig.write_legs(call_id)  # the same spool files again (transcoding is bit-exact)
        assert await f.ingest.ingest(call_id) == "stored"
        assert await store_orphans(rig) == {}
        assert set(await store_orphans(rig, open_only=False)) == {key}  # resolved, kept as history
        drop(rig, "gone/soon.ogg")
        await f.reconciler.store_scan.scan_page()
        assert set(await store_orphans(rig)) == {"gone/soon.ogg"}


async def test_long_store_location_and_keys_fit_the_columns(rig: Rig, tmp_path: Path) -> None:
    async with LocalStore(tmp_path / ("a" * 200) / ("b" * 200)) as store:
        drop_path = store.root.joinpath(*(c * 200 for c in "vwxyz"), "k" * 200 + ".ogg")
        drop_path.parent.mkdir(parents=True)
        drop_path.write_bytes(b"x")
        scan = StoreScan(db=rig.db, clock=rig.clock, settings=rig.settings.recordings, store=store)
        assert len(scan.location) == 255
        result = await scan.scan_page()
    assert result is not None and result.new_orphans == 1 and result.pass_done
    [ref] = await store_orphans(rig)
    assert len(ref) == 1024


async def test_a_position_the_store_refuses_starts_the_pass_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        drop(rig, f"stray/{i}.ogg")
    list_keys = rig.store.list_keys

    async def token_expired(*, cursor: str | None = None, limit: int = 1000) -> KeyPage:
        if cursor is not None:
            raise StorageRefused("the continuation token provided is incorrect")
        return await list_keys(cursor=cursor, limit=limit)

    async with rig.feature(store_scan_page_size=2) as f:
        assert (await f.reconciler.run_once())["new_store_orphans"] == 2
        monkeypatch.setattr(rig.store, "list_keys", token_expired)
        assert await f.reconciler.store_scan.scan_page() is None
        row = await position(rig)
        assert (row.cursor, row.seq, row.passes) == (None, 2, 0)
        monkeypatch.undo()
        assert (await f.reconciler.run_once())["new_store_orphans"] == 0  # the first page again: known
        assert (await f.reconciler.run_once())["new_store_orphans"] == 1
        assert (await position(rig)).passes == 1
