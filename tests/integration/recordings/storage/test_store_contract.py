"""The ``RecordingStore`` contract, run once against each backend: a local store in a temp dir and an S3 store
on a real SeaweedFS (Object Lock needs a real server). What only one backend does lives beside it:
``tests/unit/recordings/storage/test_local_store.py`` and ``test_s3_store.py`` here."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from recordings.storage import (
    IntegrityFailed,
    InvalidKey,
    KeyPage,
    ObjectNotFound,
    RangeNotSatisfiable,
    RecordingStore,
    RetentionActive,
    StorageRefused,
)
from recordings.storage.local import LocalStore
from sandbox.seaweed import SeaweedS3
from tests.integration.recordings.storage.conftest import make_store

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

BACKENDS = ["local", "s3"]


@pytest_asyncio.fixture(params=BACKENDS, loop_scope="module")
async def store(request: pytest.FixtureRequest, weed: SeaweedS3, tmp_path: Path) -> AsyncIterator[RecordingStore]:
    """An empty store of each backend."""
    if request.param == "local":
        async with LocalStore(tmp_path / "store") as local:
            yield local
    else:
        async with make_store(weed, f"contract-{uuid.uuid4().hex[:12]}") as s3:
            await s3.ensure_bucket()
            yield s3


def src(tmp_path: Path, data: bytes, name: str = "src.ogg") -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


def until(days: int = 730) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def read_all(store: RecordingStore, key: str) -> bytes:
    async with await store.open_range(key) as r:
        return b"".join([c async for c in r])


async def test_is_a_recording_store(store: RecordingStore) -> None:
    assert isinstance(store, RecordingStore)


async def test_put_is_described_read_back_and_verified(store: RecordingStore, tmp_path: Path) -> None:
    data = os.urandom(700_000)
    path, sha = src(tmp_path, data)
    retain = until()
    obj = await store.put("2026/01/call-1.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=retain)
    assert (obj.key, obj.size, obj.sha256, obj.legal_hold) == ("2026/01/call-1.ogg", len(data), sha, False)
    assert abs(obj.retain_until - retain) < timedelta(seconds=1)
    head = await store.head("2026/01/call-1.ogg")
    assert (head.version_id, head.size, head.sha256, head.legal_hold) == (obj.version_id, len(data), sha, False)
    assert await read_all(store, "2026/01/call-1.ogg") == data
    assert await store.verify("2026/01/call-1.ogg", sha)
    assert not await store.verify("2026/01/call-1.ogg", "0" * 64)


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a\x00b", "a/../../b", "", "a//b", "a/", ".meta/x",
                                 "a/.hidden", "a b", "ä", "x" * 513, "..", "./a"])
async def test_key_injection_refused(store: RecordingStore, tmp_path: Path, key: str) -> None:
    path, sha = src(tmp_path, b"data")
    with pytest.raises(InvalidKey):
        await store.put(key, path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    with pytest.raises(InvalidKey):
        await store.head(key)
    assert not (tmp_path / "x").exists()


async def test_put_is_idempotent_and_never_overwrites(store: RecordingStore, tmp_path: Path) -> None:
    path, sha = src(tmp_path, b"first")
    a = await store.put("k.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    b = await store.put("k.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    assert a == b
    other, other_sha = src(tmp_path, b"second", "other.ogg")
    with pytest.raises(StorageRefused):
        await store.put("k.ogg", other, sha256=other_sha, content_type="audio/ogg", retain_until=until(1))
    assert await read_all(store, "k.ogg") == b"first"
    assert (await store.head("k.ogg")).version_id == a.version_id


async def test_put_with_wrong_sha_stores_nothing(store: RecordingStore, tmp_path: Path) -> None:
    path, _ = src(tmp_path, os.urandom(10_000))
    wrong = hashlib.sha256(b"something else").hexdigest()
    # the local store hashes the file itself; S3 has the server refuse the upload's checksum
    with pytest.raises(IntegrityFailed if isinstance(store, LocalStore) else StorageRefused):
        await store.put("bad.ogg", path, sha256=wrong, content_type="audio/ogg", retain_until=until(1))
    with pytest.raises(ObjectNotFound):
        await store.head("bad.ogg")


async def test_naive_retain_until_refused(store: RecordingStore, tmp_path: Path) -> None:
    path, sha = src(tmp_path, b"x")
    with pytest.raises(ValueError, match="aware"):
        await store.put("k.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=datetime(2030, 1, 1))


async def test_range_reads_stream_in_chunks(store: RecordingStore, tmp_path: Path) -> None:
    data = os.urandom(1_000_000)
    path, sha = src(tmp_path, data)
    await store.put("r.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    async with await store.open_range("r.ogg", 100, 299_999) as r:
        assert (r.start, r.end, r.total_size, r.length) == (100, 299_999, 1_000_000, 299_900)
        assert r.content_range == "bytes 100-299999/1000000"
        assert r.content_type == "audio/ogg"
        chunks = [c async for c in r]
    assert len(chunks) > 1 and b"".join(chunks) == data[100:300_000]
    async with await store.open_range("r.ogg", 999_000) as tail:
        assert b"".join([c async for c in tail]) == data[999_000:]
    async with await store.open_range("r.ogg", 0, 5_000_000) as clamped:
        assert clamped.end == 999_999
    with pytest.raises(RangeNotSatisfiable):
        await store.open_range("r.ogg", 1_000_000)
    with pytest.raises(RangeNotSatisfiable):
        await store.open_range("r.ogg", 10, 5)
    with pytest.raises(ObjectNotFound):
        await store.open_range("nope.ogg")


async def test_no_delete_under_retention_or_legal_hold(store: RecordingStore, tmp_path: Path) -> None:
    path, sha = src(tmp_path, b"payload")
    await store.put("d.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    with pytest.raises(RetentionActive):
        await store.delete("d.ogg")
    await store.set_legal_hold("d.ogg", True)
    assert (await store.head("d.ogg")).legal_hold
    with pytest.raises(RetentionActive):
        await store.delete("d.ogg")
    await store.set_legal_hold("d.ogg", False)
    assert not (await store.head("d.ogg")).legal_hold
    with pytest.raises(RetentionActive):  # the hold is gone, the retention is not
        await store.delete("d.ogg")
    assert await read_all(store, "d.ogg") == b"payload"


async def test_health(store: RecordingStore) -> None:
    assert (await store.health())["status"] == "ok"


async def _walk(store: RecordingStore, limit: int, cursor: str | None = None) -> list[list[str]]:
    pages = []
    while True:
        page = await store.list_keys(cursor=cursor, limit=limit)
        pages.append(list(page.keys))
        if page.cursor is None:
            return pages
        cursor = page.cursor


async def test_list_keys_returns_every_key_once_in_full_pages(store: RecordingStore, tmp_path: Path) -> None:
    # names where byte order and directory order disagree ('a-c' < 'a/b' < 'a/bz')
    keys = ["a/b", "a-c", "a.d", "a/a/z", "b", "recordings/2026/05/04/x.ogg", "recordings/2026/05/04.txt",
            "recordings/2026/05/04-1/y.ogg"]
    path, sha = src(tmp_path, b"stored")
    for key in keys:
        await store.put(key, path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    for limit in (1, 2, 3, 4, 1000):
        pages = await _walk(store, limit)
        flat = [k for p in pages for k in p]
        assert len(flat) == len(keys) and set(flat) == set(keys), limit
        assert all(len(p) == limit for p in pages[:-1])


async def test_list_keys_of_an_empty_store(store: RecordingStore) -> None:
    assert await store.list_keys() == KeyPage((), None)
    with pytest.raises(ValueError):
        await store.list_keys(limit=0)
