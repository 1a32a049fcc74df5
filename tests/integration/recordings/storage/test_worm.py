"""WORM conformance of the real S3 server: these must pass on every run, or recordings are not safe.

Attacks go through a raw boto3 client (our store would refuse them before sending), so what is
tested is the server's Object Lock enforcement, not our own checks.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from recordings.storage import ObjectNotFound, RetentionActive, StorageRefused, StoredObject
from recordings.storage.s3 import S3Store

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def locked(store: S3Store, tmp_path: Path, key: str, *, days: int = 730,
                 legal_hold: bool = False) -> tuple[StoredObject, bytes]:
    data = os.urandom(20_000)
    path = tmp_path / key.replace("/", "_")
    path.write_bytes(data)
    obj = await store.put(key, path, sha256=hashlib.sha256(data).hexdigest(), content_type="audio/ogg",
                          retain_until=datetime.now(UTC) + timedelta(days=days), legal_hold=legal_hold)
    return obj, data


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def body(raw: Any, bucket: str, key: str, version_id: str | None) -> bytes:
    assert version_id
    return bytes(raw.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read())


async def test_deleting_a_locked_version_is_refused(store: S3Store, raw: Any, tmp_path: Path) -> None:
    obj, data = await locked(store, tmp_path, "worm/delete.ogg")
    with pytest.raises(ClientError) as err:
        raw.delete_object(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id)
    assert error_code(err) == "AccessDenied"
    with pytest.raises(ClientError):  # COMPLIANCE cannot be bypassed, not even with the governance header
        raw.delete_object(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id,
                          BypassGovernanceRetention=True)
    assert body(raw, store.bucket, obj.key, obj.version_id) == data


async def test_shortening_retention_is_refused(store: S3Store, raw: Any, tmp_path: Path) -> None:
    obj, _ = await locked(store, tmp_path, "worm/shorten.ogg")
    earlier = obj.retain_until - timedelta(days=365)
    with pytest.raises(ClientError) as err:
        raw.put_object_retention(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id,
                                 Retention={"Mode": "COMPLIANCE", "RetainUntilDate": earlier})
    assert error_code(err) == "AccessDenied"
    with pytest.raises(ClientError):  # nor downgraded to GOVERNANCE
        raw.put_object_retention(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id,
                                 Retention={"Mode": "GOVERNANCE", "RetainUntilDate": obj.retain_until})
    head = raw.head_object(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - obj.retain_until) < timedelta(seconds=1)


async def test_deleting_a_legal_held_version_is_refused(store: S3Store, raw: Any, tmp_path: Path) -> None:
    # A version without retention, so only the legal hold protects it.
    data = os.urandom(5000)
    put = raw.put_object(Bucket=store.bucket, Key="worm/hold.ogg", Body=data, ChecksumAlgorithm="SHA256",
                         Metadata={"sha256": hashlib.sha256(data).hexdigest()})
    version = put["VersionId"]
    await store.set_legal_hold("worm/hold.ogg", True, version_id=version)
    assert (await store.head("worm/hold.ogg", version_id=version)).legal_hold
    with pytest.raises(ClientError) as err:
        raw.delete_object(Bucket=store.bucket, Key="worm/hold.ogg", VersionId=version)
    assert error_code(err) == "AccessDenied"
    assert body(raw, store.bucket, "worm/hold.ogg", version) == data
    with pytest.raises(RetentionActive):
        await store.delete("worm/hold.ogg", version_id=version)
    # Releasing the hold makes the same delete succeed: the refusal above was the hold's doing.
    await store.set_legal_hold("worm/hold.ogg", False, version_id=version)
    await store.delete("worm/hold.ogg", version_id=version)
    with pytest.raises(ObjectNotFound):
        await store.head("worm/hold.ogg", version_id=version)


async def test_legal_hold_at_put_time(store: S3Store, raw: Any, tmp_path: Path) -> None:
    obj, _ = await locked(store, tmp_path, "worm/held-at-put.ogg", legal_hold=True)
    head = raw.head_object(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id)
    assert head["ObjectLockLegalHoldStatus"] == "ON"


async def test_delete_without_version_only_adds_a_marker(store: S3Store, raw: Any, tmp_path: Path) -> None:
    obj, data = await locked(store, tmp_path, "worm/marker.ogg")
    resp = raw.delete_object(Bucket=store.bucket, Key=obj.key)
    assert resp.get("DeleteMarker") is True
    with pytest.raises(ObjectNotFound):
        await store.head(obj.key)
    assert body(raw, store.bucket, obj.key, obj.version_id) == data
    assert await store.verify(obj.key, obj.sha256, version_id=obj.version_id)
    listed = raw.list_object_versions(Bucket=store.bucket, Prefix=obj.key)
    assert [v["VersionId"] for v in listed["Versions"]] == [obj.version_id]
    assert len(listed["DeleteMarkers"]) == 1


async def test_server_refuses_even_when_our_clock_says_expired(store: S3Store, tmp_path: Path) -> None:
    obj, _ = await locked(store, tmp_path, "worm/clock.ogg")
    with pytest.raises(RetentionActive):
        await store.delete(obj.key)
    # A store whose clock is wrong (or a bug in our check) must still be stopped by the server.
    store._clock = lambda: datetime.now(UTC) + timedelta(days=3650)
    with pytest.raises(StorageRefused) as err:
        await store.delete(obj.key)
    assert not isinstance(err.value, RetentionActive)
    assert err.value.details["s3_code"] == "AccessDenied"
    assert (await store.head(obj.key)).version_id == obj.version_id
