"""Storage stopped while calls end: StorageUnavailable, then everything works after it returns."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recordings.storage import StorageUnavailable
from sandbox.seaweed import SeaweedS3
from tests.integration.recordings.storage.conftest import make_store

pytestmark = [pytest.mark.integration]


def src(tmp_path: Path, name: str) -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(os.urandom(50_000))
    return p, hashlib.sha256(p.read_bytes()).hexdigest()


async def test_storage_down_then_back(tmp_path: Path) -> None:
    retain = datetime.now(UTC) + timedelta(days=730)
    async with SeaweedS3(tmp_path / "weed") as weed, make_store(weed, "outage", connect_timeout=1.0) as store:
        await store.ensure_bucket()
        before, before_sha = src(tmp_path, "before.ogg")
        await store.put("before.ogg", before, sha256=before_sha, content_type="audio/ogg",
                        retain_until=retain)

        await weed.stop()
        after, after_sha = src(tmp_path, "after.ogg")
        with pytest.raises(StorageUnavailable) as err:
            await store.put("after.ogg", after, sha256=after_sha, content_type="audio/ogg",
                            retain_until=retain)
        assert err.value.status == 503 and err.value.code == "storage-unavailable"
        assert err.value.details["upstream"] == "storage"
        with pytest.raises(StorageUnavailable):
            await store.head("before.ogg")
        health = await store.health()
        assert health["status"] == "down" and health["error"] == "storage-unavailable"

        await weed.start()
        stored = await store.put("after.ogg", after, sha256=after_sha, content_type="audio/ogg",
                                 retain_until=retain)
        assert stored.version_id
        assert await store.verify("before.ogg", before_sha)
        assert await store.verify("after.ogg", after_sha)
        assert (await store.health())["status"] == "ok"
