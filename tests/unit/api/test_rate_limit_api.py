"""The request rate limit at the HTTP edge: per credential, 429 rate-limited in the one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from core.ratelimit import RateLimiter

from .conftest import Api


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(api: Api) -> AsyncIterator[tuple[TestClient[Any, Any], Ticks]]:
    clock = Ticks()
    client = TestClient(TestServer(make_app(api.container, limiter=RateLimiter(1.0, 3, clock=clock))))
    await client.start_server()
    try:
        yield client, clock
    finally:
        await client.close()


async def test_over_the_limit_is_429_with_retry_after_in_the_one_shape(
        api: Api, limited: tuple[TestClient[Any, Any], Ticks]) -> None:
    client, clock = limited
    for _ in range(3):
        r = await client.get("/v1/calls", headers=api.auth("sam"))
        assert r.status == 200
    r = await client.get("/v1/calls", headers={**api.auth("sam"), "Accept-Language": "en"})
    assert r.status == 429 and r.headers["Retry-After"] == "1" and r.headers["Content-Language"] == "en"
    error = (await r.json())["error"]
    assert error["code"] == "rate-limited"
    assert error["details"] == {"retry_after_s": 1, "requests_per_s": 1.0, "burst": 3}
    assert error["messages"] == {"zh-CN": "请求过于频繁，请在 1 秒后重试。", "en": "too many requests; retry in 1 s"}
    # another credential has its own bucket
    assert (await client.get("/v1/calls", headers=api.auth("mia"))).status == 200
    clock.now += 1
    assert (await client.get("/v1/calls", headers=api.auth("sam"))).status == 200
    assert (await client.get("/v1/calls", headers=api.auth("sam"))).status == 429


async def test_requests_without_a_token_count_against_their_address_and_health_is_exempt(
        api: Api, limited: tuple[TestClient[Any, Any], Ticks]) -> None:
    client, _ = limited
    statuses = [(await client.get("/v1/calls")).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert (await client.get("/v1/openapi.json")).status == 429  # public, but the same address
    for _ in range(10):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/v1/calls", headers=api.auth("sam"))).status == 200  # a token is its own credential


async def test_a_refused_request_changes_nothing(api: Api, limited: tuple[TestClient[Any, Any], Ticks]) -> None:
    client, clock = limited
    dial = {"agent": "alice", "number": "+8613800138000"}
    for _ in range(3):
        await client.get("/v1/calls", headers=api.auth("alice"))
    r = await client.post("/v1/calls", json=dial, headers=api.auth("alice"))
    assert r.status == 429
    assert api.pbx.actions == []
    assert (await (await api.client.get("/v1/calls", headers=api.auth("sam"))).json())["items"] == []
    clock.now += 1  # the same request, once the bucket has a request again, goes through
    r = await client.post("/v1/calls", json=dial, headers=api.auth("alice"))
    assert r.status == 202, await r.text()
    assert [a for a, _ in api.pbx.actions] == ["originate"]
