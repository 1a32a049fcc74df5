"""What only S3Store does, against a real SeaweedFS: Object Lock and checksums on put, versions, multipart,
a bucket without Object Lock, continuation tokens and prefixes; the shared ``RecordingStore`` contract is
test_store_contract.py."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from recordings.storage import (
    StorageRefused,
)
from recordings.storage.s3 import S3Store
from sandbox.seaweed import SeaweedS3
from tests.integration.recordings.storage.conftest import make_store

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def src(tmp_path: Path, size: int, name: str = "rec.ogg") -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(os.urandom(size))
    return p, hashlib.sha256(p.read_bytes()).hexdigest()


def until(days: int = 730) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def test_put_locks_and_checksums_the_object(store: S3Store, raw: Any, tmp_path: Path) -> None:
    path, sha = src(tmp_path, 700_000)
    obj = await store.put("2026/11/call-1.ogg", path, sha256=sha, content_type="audio/ogg",
                          retain_until=until())
    assert obj.version_id and obj.size == 700_000 and obj.sha256 == sha
    head = raw.head_object(Bucket=store.bucket, Key="2026/11/call-1.ogg", VersionId=obj.version_id,
                           ChecksumMode="ENABLED")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - obj.retain_until) < timedelta(seconds=1)
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(sha)).decode()
    assert head["Metadata"]["sha256"] == sha
    assert head["ContentType"] == "audio/ogg"


async def test_a_repeated_or_refused_put_adds_no_version(store: S3Store, raw: Any, tmp_path: Path) -> None:
    path, sha = src(tmp_path, 5000)
    a = await store.put("i.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    await store.put("i.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
    other, other_sha = src(tmp_path, 5000, "other.ogg")
    with pytest.raises(StorageRefused):
        await store.put("i.ogg", other, sha256=other_sha, content_type="audio/ogg", retain_until=until(1))
    versions = raw.list_object_versions(Bucket=store.bucket, Prefix="i.ogg").get("Versions", [])
    assert [v["VersionId"] for v in versions] == [a.version_id]


async def test_multipart_upload_is_locked_too(weed: SeaweedS3, raw: Any, tmp_path: Path) -> None:
    bucket = f"mp-{uuid.uuid4().hex[:12]}"
    async with make_store(weed, bucket, multipart_threshold=6 * 1024 * 1024,
                          part_size=5 * 1024 * 1024) as s:
        await s.ensure_bucket()
        path, sha = src(tmp_path, 11 * 1024 * 1024, "big.wav")
        obj = await s.put("big.wav", path, sha256=sha, content_type="audio/wav", retain_until=until(1))
        head = raw.head_object(Bucket=bucket, Key="big.wav", VersionId=obj.version_id)
        assert head["ObjectLockMode"] == "COMPLIANCE" and head["Metadata"]["sha256"] == sha
        assert await s.verify("big.wav", sha, version_id=obj.version_id)
        with pytest.raises(ClientError):
            raw.delete_object(Bucket=bucket, Key="big.wav", VersionId=obj.version_id)


async def test_ensure_bucket_refuses_a_bucket_without_object_lock(weed: SeaweedS3, raw: Any) -> None:
    bucket = f"nolock-{uuid.uuid4().hex[:12]}"
    raw.create_bucket(Bucket=bucket)
    async with make_store(weed, bucket) as s:
        with pytest.raises(StorageRefused, match="without Object Lock"):
            await s.ensure_bucket()
        assert (await s.health())["status"] == "degraded"


@pytest.mark.parametrize("locked", [True, False])
async def test_ensure_bucket_takes_a_bucket_another_instance_created_between_its_check_and_create(
        weed: SeaweedS3, raw: Any, locked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two instances starting at once both see no bucket; the slower one's CreateBucket is refused as already
    owned. That is a start-up, not an error, and the bucket is still checked for Object Lock: one created without
    it stops the start. The race is made certain by letting the other instance create the bucket right after our
    HeadBucket answers 404."""
    bucket = f"race-{uuid.uuid4().hex[:12]}"
    async with make_store(weed, bucket) as s:
        head = s._client.head_bucket

        def head_then_lose_the_race(**kwargs: Any) -> Any:
            monkeypatch.undo()
            try:
                return head(**kwargs)
            finally:
                raw.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=locked)

        monkeypatch.setattr(s._client, "head_bucket", head_then_lose_the_race)
        if locked:
            await s.ensure_bucket()
            with pytest.raises(ClientError, match="BucketAlreadyOwnedByYou"):
                raw.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
            assert (await s.health())["object_lock"] is True
        else:  # SeaweedFS answers BucketAlreadyExists when the settings differ; either way the start stops
            with pytest.raises(StorageRefused, match="without Object Lock|BucketAlreadyExists"):
                await s.ensure_bucket()


async def test_health(store: S3Store) -> None:
    h = await store.health()
    assert h["object_lock"] is True and h["bucket"] == store.bucket


async def _walk(store: S3Store, limit: int, cursor: str | None = None) -> list[list[str]]:
    pages = []
    while True:
        page = await store.list_keys(cursor=cursor, limit=limit)
        pages.append(list(page.keys))
        if page.cursor is None:
            return pages
        cursor = page.cursor


async def test_list_keys_walks_every_key_once_with_continuation_tokens(weed: SeaweedS3, raw: Any,
                                                                        tmp_path: Path) -> None:
    bucket = f"list-{uuid.uuid4().hex[:12]}"
    # names where byte order and directory order disagree ('a-c' < 'a/b' < 'a/bz'): SeaweedFS cuts pages
    # in directory order, so resuming after a page's last key would repeat or skip keys
    ours = ["a/b", "a-c", "a.d", "a/a/z", "b", "recordings/2026/05/04/x.ogg", "recordings/2026/05/04.txt",
            "recordings/2026/05/04-1/y.ogg"]
    async with make_store(weed, bucket) as s, make_store(weed, bucket, prefix="tenant-a") as scoped:
        await s.ensure_bucket()
        path, sha = src(tmp_path, 2000)
        for key in ours:
            await s.put(key, path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
        raw.put_object(Bucket=bucket, Key="stray file.wav", Body=b"dropped by hand")
        await scoped.put("2026/t.ogg", path, sha256=sha, content_type="audio/ogg", retain_until=until(1))
        everything = {*ours, "stray file.wav", "tenant-a/2026/t.ogg"}
        for limit in (1, 2, 3, 4, 1000):
            pages = await _walk(s, limit)
            flat = [k for p in pages for k in p]
            assert len(flat) == len(everything) and set(flat) == everything, limit
            assert all(len(p) == limit for p in pages[:-1])
        assert await _walk(scoped, 1000) == [["2026/t.ogg"]]  # only under its prefix, prefix stripped
        assert (s.location, scoped.location) == (f"s3://{bucket}/", f"s3://{bucket}/tenant-a/")
        first = await s.list_keys(limit=3)
        assert first.cursor is not None
    async with make_store(weed, bucket) as again:  # another instance (or a restart) resumes from the token
        rest = [k for p in await _walk(again, 3, first.cursor) for k in p]
    assert sorted([*first.keys, *rest]) == sorted(everything)
