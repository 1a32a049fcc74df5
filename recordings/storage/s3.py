"""S3 recording store with Object Lock (COMPLIANCE) on every version.

One boto3 client, every call in a dedicated ``ThreadPoolExecutor`` whose size matches the client's
``max_pool_connections`` (boto3 on its own pool kept loop stalls at 4-16 ms; aiobotocore signs on
the loop). Each PUT carries ``ObjectLockMode=COMPLIANCE``, ``ObjectLockRetainUntilDate``, our own
SHA-256 as ``ChecksumSHA256`` (the server rejects a body that does not match it) and metadata
``sha256=<hex>`` (a multipart S3 checksum is a checksum of parts, so we keep the whole-file one).
Files from ``multipart_threshold`` (64 MiB) up go as an explicit multipart upload, because
``upload_file`` does not return the version id. After a put the version is read back and hashed
(``verify_on_put``). botocore errors become ``StorageUnavailable`` / ``StorageRefused`` /
``ObjectNotFound`` / ``RangeNotSatisfiable`` in exactly one place: ``_translate``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

from core.errors import CallguardError
from recordings.storage.base import CHUNK_SIZE, ByteRange, KeyPage, StoredObject
from recordings.storage.errors import (
    IntegrityFailed,
    ObjectNotFound,
    RangeNotSatisfiable,
    RetentionActive,
    StorageRefused,
    StorageUnavailable,
)
from recordings.storage.keys import validate_key

P = ParamSpec("P")
T = TypeVar("T")

MiB = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_UNAVAILABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _translate(exc: BaseException) -> CallguardError:
    """The one place where botocore/urllib3 failures become domain errors."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        details = {"s3_code": code, "http_status": status, "operation": exc.operation_name}
        if code in _NOT_FOUND:
            return ObjectNotFound("no recording object under this key", details=details)
        if code == "InvalidRange" or status == 416:
            return RangeNotSatisfiable("requested range is outside the object", details=details)
        if status >= 500 or code in _UNAVAILABLE:
            return StorageUnavailable(f"storage answered {status} {code}", details=details)
        return StorageRefused(f"storage refused {exc.operation_name}: {code}", details=details)
    if isinstance(exc, HTTPClientError | BotoConnectionError | Urllib3Error | OSError):
        return StorageUnavailable(f"storage unreachable: {exc}", details={"error": type(exc).__name__})
    return StorageRefused(f"storage client error: {exc}", details={"error": type(exc).__name__})


def _b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class S3Store:
    """``RecordingStore`` on an S3 bucket with Object Lock; an async context manager."""

    backend = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str, access_key: str,
                 secret_key: str, max_workers: int = 8, prefix: str = "",
                 multipart_threshold: int = 64 * MiB, part_size: int = 16 * MiB,
                 verify_on_put: bool = True, connect_timeout: float = 3.0, read_timeout: float = 60.0,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        if prefix:
            validate_key(prefix.rstrip("/"))
        self.bucket = bucket
        self.prefix = prefix.rstrip("/") + "/" if prefix else ""
        self.multipart_threshold = multipart_threshold
        self.part_size = max(part_size, 5 * MiB)
        self.verify_on_put = verify_on_put
        self._clock = clock
        self._max_workers = max_workers
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint_url, "region_name": region, "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": Config(max_pool_connections=max_workers, connect_timeout=connect_timeout,
                             read_timeout=read_timeout, retries={"max_attempts": 3, "mode": "standard"},
                             s3={"addressing_style": "path"}, signature_version="s3v4"),
        }
        self._executor: ThreadPoolExecutor | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self._client_args['endpoint_url']!r})"

    @property
    def location(self) -> str:
        """``s3://bucket/prefix`` (not the endpoint: instances may reach one bucket by different names)."""
        return f"s3://{self.bucket}/{self.prefix}"

    async def __aenter__(self) -> S3Store:
        self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="s3-store")
        loop = asyncio.get_running_loop()
        self._client = await loop.run_in_executor(
            self._executor, functools.partial(boto3.session.Session().client, "s3", **self._client_args))
        return self

    async def __aexit__(self, *exc: object) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- plumbing --------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the S3 pool; botocore errors leave here translated."""
        if self._executor is None:
            raise RuntimeError("S3Store used outside 'async with'")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        except (BotoCoreError, ClientError, Urllib3Error, OSError) as exc:
            raise _translate(exc) from exc

    def _version_args(self, version_id: str | None) -> dict[str, str]:
        return {"VersionId": version_id} if version_id else {}

    # -- blocking operations (run on the pool) ---------------------------------------------
    def _head_sync(self, key: str, version_id: str | None) -> StoredObject:
        r = self._client.head_object(Bucket=self.bucket, Key=self._key(key),
                                     **self._version_args(version_id))
        retain = r.get("ObjectLockRetainUntilDate")
        never = datetime.min.replace(tzinfo=UTC)
        return StoredObject(key=key, version_id=r.get("VersionId"), size=int(r["ContentLength"]),
                            sha256=r.get("Metadata", {}).get("sha256", ""),
                            retain_until=retain.astimezone(UTC) if retain else never,
                            legal_hold=r.get("ObjectLockLegalHoldStatus") == "ON",
                            content_type=r.get("ContentType", "application/octet-stream"))

    def _lock_args(self, obj: StoredObject) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Bucket": self.bucket, "Key": self._key(obj.key), "ContentType": obj.content_type,
            "Metadata": {"sha256": obj.sha256}, "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": obj.retain_until, "ChecksumAlgorithm": "SHA256",
        }
        if obj.legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        return args

    def _put_sync(self, path: Path, obj: StoredObject) -> StoredObject:
        try:
            existing = self._head_sync(obj.key, None)
        except ClientError as exc:
            if not isinstance(_translate(exc), ObjectNotFound):
                raise
        else:
            if existing.sha256 == obj.sha256:
                return existing
            raise StorageRefused("a different recording is already stored under this key",
                                 details={"key": obj.key, "version_id": existing.version_id})
        size = os.stat(path).st_size
        if size < self.multipart_threshold:
            with path.open("rb") as body:
                r = self._client.put_object(Body=body, ContentLength=size,
                                            ChecksumSHA256=_b64_sha256(obj.sha256), **self._lock_args(obj))
            version_id = r.get("VersionId")
        else:
            version_id = self._multipart_sync(path, obj)
        stored = StoredObject(key=obj.key, version_id=version_id, size=size, sha256=obj.sha256,
                              retain_until=obj.retain_until, legal_hold=obj.legal_hold,
                              content_type=obj.content_type)
        if self.verify_on_put and self._hash_sync(obj.key, version_id) != obj.sha256:
            raise IntegrityFailed("stored object does not hash to the expected sha256",
                                  details={"key": obj.key, "version_id": version_id})
        return stored

    def _multipart_sync(self, path: Path, obj: StoredObject) -> str | None:
        args = self._lock_args(obj)
        upload_id = self._client.create_multipart_upload(**args)["UploadId"]
        ident = {"Bucket": self.bucket, "Key": args["Key"], "UploadId": upload_id}
        try:
            parts: list[dict[str, Any]] = []
            whole = hashlib.sha256()
            with path.open("rb") as fh:
                while chunk := fh.read(self.part_size):
                    whole.update(chunk)
                    part_sha = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
                    number = len(parts) + 1
                    r = self._client.upload_part(Body=chunk, PartNumber=number, ChecksumAlgorithm="SHA256",
                                                 ChecksumSHA256=part_sha, **ident)
                    parts.append({"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": part_sha})
            if whole.hexdigest() != obj.sha256:
                raise IntegrityFailed("source file does not match the given sha256",
                                      details={"key": obj.key})
            done = self._client.complete_multipart_upload(MultipartUpload={"Parts": parts}, **ident)
        except BaseException:
            try:
                self._client.abort_multipart_upload(**ident)
            except (BotoCoreError, ClientError):
                pass  # the original error matters; an orphaned upload is removed by lifecycle
            raise
        version: str | None = done.get("VersionId")
        return version

    def _hash_sync(self, key: str, version_id: str | None) -> str:
        r = self._client.get_object(Bucket=self.bucket, Key=self._key(key), **self._version_args(version_id))
        digest = hashlib.sha256()
        body = r["Body"]
        try:
            while chunk := body.read(CHUNK_SIZE * 4):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    # -- RecordingStore --------------------------------------------------------------------
    async def put(self, key: str, path: Path, *, sha256: str, content_type: str,
                  retain_until: datetime, legal_hold: bool = False) -> StoredObject:
        """Upload under COMPLIANCE lock until ``retain_until``; idempotent for the same sha256."""
        self._key(key)
        if retain_until.tzinfo is None or retain_until.utcoffset() is None:
            raise ValueError("retain_until must be an aware datetime")
        obj = StoredObject(key=key, version_id=None, size=0, sha256=sha256.lower(),
                           retain_until=retain_until.astimezone(UTC), legal_hold=legal_hold,
                           content_type=content_type)
        return await self._call(self._put_sync, Path(path), obj)

    async def head(self, key: str, *, version_id: str | None = None) -> StoredObject:
        """Object metadata (latest version unless ``version_id``)."""
        self._key(key)
        return await self._call(self._head_sync, key, version_id)

    async def open_range(self, key: str, start: int = 0, end: int | None = None, *,
                         version_id: str | None = None) -> ByteRange:
        """One ranged GetObject; the body is read chunk by chunk on the pool."""
        if start < 0 or (end is not None and end < start):
            raise RangeNotSatisfiable(f"invalid range {start}-{end}")
        rng = f"bytes={start}-{'' if end is None else end}"
        r = await self._call(self._client.get_object, Bucket=self.bucket, Key=self._key(key), Range=rng,
                             **self._version_args(version_id))
        length = int(r["ContentLength"])
        content_range = r.get("ContentRange")
        if content_range:
            span, total = content_range.split(" ", 1)[1].split("/")
            first, last = (int(v) for v in span.split("-"))
            total_size = int(total)
        else:
            first, last, total_size = 0, length - 1, length
        return ByteRange(start=first, end=last, total_size=total_size,
                         content_type=r.get("ContentType", "application/octet-stream"),
                         chunks=self._chunks(r["Body"]))

    async def _chunks(self, body: Any) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._call(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            if self._executor is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, body.close)

    async def verify(self, key: str, sha256: str, *, version_id: str | None = None) -> bool:
        """GetObject and hash it ourselves (an S3 multipart checksum is not a whole-file SHA-256)."""
        self._key(key)
        return await self._call(self._hash_sync, key, version_id) == sha256.lower()

    async def set_legal_hold(self, key: str, on: bool, *, version_id: str | None = None) -> None:
        """PutObjectLegalHold ON/OFF."""
        await self._call(self._client.put_object_legal_hold, Bucket=self.bucket, Key=self._key(key),
                         LegalHold={"Status": "ON" if on else "OFF"}, **self._version_args(version_id))

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Permanently delete a version after its retention, without legal hold (S3 also enforces)."""
        obj = await self.head(key, version_id=version_id)
        if obj.legal_hold or obj.retain_until > self._clock():
            raise RetentionActive("recording is under retention or legal hold",
                                  details={"key": key, "retain_until": obj.retain_until.isoformat(),
                                           "legal_hold": obj.legal_hold})
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=self._key(key),
                         **self._version_args(obj.version_id))

    async def list_keys(self, *, cursor: str | None = None, limit: int = 1000) -> KeyPage:
        """One ListObjectsV2 page under the prefix (current versions only); the cursor is the
        continuation token. Not ``StartAfter`` with the last key: SeaweedFS cuts pages in its directory
        order but returns each page sorted, so the last key of a page is not where the next one starts
        (measured: keys repeated); only its token walks every key exactly once."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        args: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": min(limit, 1000)}
        if self.prefix:
            args["Prefix"] = self.prefix
        if cursor:
            args["ContinuationToken"] = cursor
        r = await self._call(self._client.list_objects_v2, **args)
        keys = tuple(str(o["Key"])[len(self.prefix):] for o in r.get("Contents", ()))
        if not r.get("IsTruncated"):
            return KeyPage(keys, None)
        token = r.get("NextContinuationToken")
        if not token:
            raise StorageRefused("a truncated listing without a continuation token",
                                 details={"bucket": self.bucket, "operation": "ListObjectsV2"})
        return KeyPage(keys, str(token))

    async def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing (or take the one another instance created meanwhile);
        refuse a bucket without Object Lock."""
        def _ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
                extra: dict[str, Any] = {}
                region = self._client_args["region_name"]
                if region and region != "us-east-1":
                    extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
                try:
                    self._client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True, **extra)
                except ClientError as race:
                    # another instance starting at the same moment created it first: ours to check, not an
                    # error. Newer SeaweedFS releases say BucketAlreadyExists even to the bucket's owner;
                    # HeadBucket tells ours (200) from another owner's (403, raised as refused)
                    if str(race.response.get("Error", {}).get("Code")) not in {"BucketAlreadyOwnedByYou",
                                                                               "BucketAlreadyExists"}:
                        raise
                    self._client.head_bucket(Bucket=self.bucket)
            if not self._lock_enabled_sync():
                raise StorageRefused("bucket exists without Object Lock", details={"bucket": self.bucket})
        await self._call(_ensure)

    def _lock_enabled_sync(self) -> bool:
        try:
            conf = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if isinstance(_translate(exc), StorageRefused | ObjectNotFound):
                return False
            raise
        return bool(conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")

    async def health(self) -> dict[str, Any]:
        """HeadBucket + Object Lock check with latency; never raises."""
        started = time.monotonic()
        base: dict[str, Any] = {"backend": self.backend, "bucket": self.bucket}
        try:
            await self._call(self._client.head_bucket, Bucket=self.bucket)
            locked = await self._call(self._lock_enabled_sync)
        except CallguardError as exc:
            return {**base, "status": "down", "error": exc.code, "message": exc.message}
        return {**base, "status": "ok" if locked else "degraded", "object_lock": locked,
                "latency_ms": round((time.monotonic() - started) * 1000, 1)}
