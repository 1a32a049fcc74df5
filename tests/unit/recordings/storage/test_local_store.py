"""What only the local store does (files on disk, modes, sidecars, a settable clock); the shared
``RecordingStore`` contract runs on both backends in tests/integration/recordings/storage/test_store_contract.py."""

import hashlib
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recordings.storage import (
    IntegrityFailed,
    InvalidKey,
    KeyPage,
    ObjectNotFound,
    RetentionActive,
)
from recordings.storage.local import LocalStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[LocalStore]:
    async with LocalStore(tmp_path / "store", clock=clock) as s:
        yield s


def src_file(tmp_path: Path, data: bytes, name: str = "src.ogg") -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


async def test_put_is_read_only_atomic_and_described(store: LocalStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    src, sha = src_file(tmp_path, data)
    until = NOW + timedelta(days=730)
    obj = await store.put("2026/01/call-1.ogg", src, sha256=sha, content_type="audio/ogg", retain_until=until)
    assert (obj.size, obj.sha256, obj.retain_until, obj.version_id) == (len(data), sha, until, None)
    stored = store.root / "2026/01/call-1.ogg"
    assert stored.read_bytes() == data
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    meta = store.root / ".meta/2026/01/call-1.ogg.json"
    assert stat.S_IMODE(meta.stat().st_mode) == 0o444
    assert list((store.root / ".tmp").iterdir()) == []
    head = await store.head("2026/01/call-1.ogg")
    assert head == obj


async def test_symlink_escape_refused(store: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "link").symlink_to(outside)
    src, sha = src_file(tmp_path, b"data")
    with pytest.raises(InvalidKey, match="escapes"):
        await store.put("link/x.ogg", src, sha256=sha, content_type="audio/ogg", retain_until=NOW)
    assert list(outside.iterdir()) == []


async def test_put_with_wrong_sha_stores_nothing(store: LocalStore, tmp_path: Path) -> None:
    src, _ = src_file(tmp_path, b"payload")
    with pytest.raises(IntegrityFailed):
        await store.put("k.ogg", src, sha256="0" * 64, content_type="audio/ogg", retain_until=NOW)
    assert not (store.root / "k.ogg").exists()
    assert list((store.root / ".tmp").iterdir()) == []


async def test_crash_before_sidecar_is_completed_by_retry(store: LocalStore, tmp_path: Path) -> None:
    src, sha = src_file(tmp_path, b"payload")
    (store.root / "k.ogg").write_bytes(b"payload")  # as if the process died before the sidecar
    obj = await store.put("k.ogg", src, sha256=sha, content_type="audio/ogg", retain_until=NOW)
    assert (await store.head("k.ogg")) == obj


async def test_delete_only_after_retention_and_without_hold(store: LocalStore, tmp_path: Path,
                                                            clock: Clock) -> None:
    src, sha = src_file(tmp_path, b"payload")
    await store.put("d.ogg", src, sha256=sha, content_type="audio/ogg", retain_until=NOW + timedelta(days=1))
    with pytest.raises(RetentionActive):
        await store.delete("d.ogg")
    clock.now = NOW + timedelta(days=2)
    await store.set_legal_hold("d.ogg", True)
    assert (await store.head("d.ogg")).legal_hold
    with pytest.raises(RetentionActive):
        await store.delete("d.ogg")
    assert (store.root / "d.ogg").exists()
    await store.set_legal_hold("d.ogg", False)
    await store.delete("d.ogg")
    assert not (store.root / "d.ogg").exists()
    with pytest.raises(ObjectNotFound):
        await store.head("d.ogg")


async def test_health(store: LocalStore) -> None:
    h = await store.health()
    assert h["backend"] == "local" and h["free_bytes"] > 0


async def _all_pages(store: LocalStore, limit: int, cursor: str | None = None) -> list[list[str]]:
    pages = []
    while True:
        page = await store.list_keys(cursor=cursor, limit=limit)
        pages.append(list(page.keys))
        if page.cursor is None:
            return pages
        assert page.cursor == page.keys[-1]
        cursor = page.cursor


async def test_list_keys_pages_in_component_order_resumably(store: LocalStore, tmp_path: Path) -> None:
    keys = ["a-c.ogg", "a/b.ogg", "a/a/z.ogg", "a.d", "b", "recordings/2026/05/04/x.ogg", "recordings/2026/05/04.txt",
            "recordings/2026/05/04-1/y.ogg", "stray file.wav"]
    for key in keys:
        (store.root / key).parent.mkdir(parents=True, exist_ok=True)
        (store.root / key).write_bytes(b"x")
    src, sha = src_file(tmp_path, b"stored")
    await store.put("recordings/2026/05/04/w.ogg", src, sha256=sha, content_type="audio/ogg", retain_until=NOW)
    (store.root / "recordings/.hidden").write_bytes(b"internal")
    (store.root / "link").symlink_to(tmp_path)  # never followed out of the root
    expected = ["a/a/z.ogg", "a/b.ogg", "a-c.ogg", "a.d", "b", "recordings/2026/05/04/w.ogg",
                "recordings/2026/05/04/x.ogg", "recordings/2026/05/04-1/y.ogg", "recordings/2026/05/04.txt",
                "stray file.wav"]  # .meta, .tmp and dot names are the store's own
    assert await _all_pages(store, 1000) == [expected]
    for limit in (1, 2, 3, 9, 10):
        pages = await _all_pages(store, limit)
        assert [k for p in pages for k in p] == expected
        assert all(len(p) == limit for p in pages[:-1])
    # a cursor stays valid when its key is gone, and keys added before it wait for the next pass
    (store.root / "a/b.ogg").unlink()
    (store.root / "a/0.ogg").write_bytes(b"late")
    assert await _all_pages(store, 2, cursor="a/b.ogg") == [expected[2:4], expected[4:6], expected[6:8],
                                                            expected[8:]]


async def test_list_keys_of_an_empty_or_missing_root(tmp_path: Path) -> None:
    async with LocalStore(tmp_path / "never-created") as store:
        (store.root / ".tmp").rmdir()
        store.root.rmdir()
        assert await store.list_keys() == KeyPage((), None)
        assert store.location == (tmp_path / "never-created").resolve().as_uri()
    with pytest.raises(ValueError):
        await LocalStore(tmp_path).list_keys(limit=0)
