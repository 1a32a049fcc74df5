"""Backup helpers on a real database (SQLite and PostgreSQL) and real local stores: a copy keeps retention and
legal hold and is idempotent; relink and verify name every recording whose object is missing or damaged."""

from __future__ import annotations

import os

from recordings.backup import copy_store, relink, verify
from recordings.storage.local import LocalStore
from tests.unit.recordings.conftest import Rig


async def test_copy_relink_and_verify_name_what_is_missing_or_damaged(rig: Rig) -> None:
    calls = [await rig.add_call(case=f"case-{i}") for i in range(2)]
    async with rig.feature() as f:
        for call in calls:
            rig.write_legs(call.id)
            assert await f.ingest.ingest(call.id) == "stored"
    first = await rig.store.head(next(iter(await _keys(rig.store))))
    await rig.store.set_legal_hold(first.key, True)

    empty = LocalStore(rig.tmp / "empty", clock=rig.clock.now)
    async with empty:
        assert sorted((await relink(rig.db, empty)).missing) == sorted(c.id for c in calls)
        assert sorted((await verify(rig.db, empty)).failed) == sorted(c.id for c in calls)

    backup = LocalStore(rig.tmp / "backup", clock=rig.clock.now)
    async with backup:
        report = await copy_store(rig.store, backup, now=rig.clock.now())
        assert len(report.copied) == 2 and not report.already and not report.expired
        assert len((await copy_store(rig.store, backup, now=rig.clock.now())).already) == 2
        copy = await backup.head(first.key)
        assert (copy.sha256, copy.retain_until, copy.legal_hold) == (first.sha256, first.retain_until, True)
        relinked = await relink(rig.db, backup)
        assert (relinked.linked, relinked.unchanged, relinked.missing) == (0, 2, [])  # local: no version ids
        assert len((await verify(rig.db, backup)).verified) == 2
        damaged = backup.root / first.key
        os.chmod(damaged, 0o600)
        damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
        assert len((await verify(rig.db, backup)).failed) == 1


async def _keys(store: LocalStore) -> list[str]:
    return list((await store.list_keys()).keys)
