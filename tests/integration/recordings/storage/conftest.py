"""A real SeaweedFS S3 per test module (Object Lock needs a real server; moto checks no checksums)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
import pytest_asyncio
from botocore.config import Config

from recordings.storage.s3 import S3Store
from sandbox.seaweed import SeaweedS3


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def weed() -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3() as server:
        yield server


def make_store(weed: SeaweedS3, bucket: str, **kwargs: Any) -> S3Store:
    return S3Store(bucket, endpoint_url=weed.endpoint_url, region=weed.region, access_key=weed.access_key,
                   secret_key=weed.secret_key, max_workers=4, **kwargs)


def raw_client(weed: SeaweedS3) -> Any:
    """A plain boto3 client for the attacks our store would never send."""
    return boto3.client("s3", endpoint_url=weed.endpoint_url, region_name=weed.region,
                        aws_access_key_id=weed.access_key, aws_secret_access_key=weed.secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest_asyncio.fixture(loop_scope="module")
async def store(weed: SeaweedS3) -> AsyncIterator[S3Store]:
    async with make_store(weed, f"rec-{uuid.uuid4().hex[:12]}") as s:
        await s.ensure_bucket()
        yield s


@pytest.fixture
def raw(weed: SeaweedS3) -> Any:
    client = raw_client(weed)
    yield client
    client.close()
