"""An HTTP error answer speaks the language the request asks for (Accept-Language), and carries both."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.middleware import errors_middleware

from .conftest import Api

UNAUTHORIZED_ZH = "需要登录：请在 Authorization 请求头中提供 Bearer 令牌。"


@pytest.mark.parametrize(("accept", "language"), [
    ("en", "en"), ("en-GB,en;q=0.9", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), (None, "zh-CN"),
    ("garbage;;q=x,,", "zh-CN"), ("fr-FR", "zh-CN"), ("de;q=1, en;q=0.2", "en"),
])
async def test_an_error_follows_accept_language(api: Api, accept: str | None, language: str) -> None:
    headers = {"Accept-Language": accept} if accept is not None else {}
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800138000"}, headers=headers)
    assert r.status == 401
    assert r.headers["Content-Language"] == language
    assert "Accept-Language" in r.headers["Vary"]
    error = (await r.json())["error"]
    assert error["code"] == "unauthorized"
    assert error["messages"] == {"zh-CN": UNAUTHORIZED_ZH, "en": "a bearer token is required"}
    assert error["message"] == error["messages"][language]


async def test_the_default_language_comes_from_the_settings(api: Api) -> None:
    s = api.container.settings
    api.container.settings = s.model_copy(update={"server": s.server.model_copy(update={"default_language": "en"})})
    r = await api.client.get("/v1/calls/nope", headers={"Accept-Language": "fr"})
    assert r.status == 401 and r.headers["Content-Language"] == "en"
    assert (await r.json())["error"]["message"] == "a bearer token is required"
    r = await api.client.get("/v1/calls/nope", headers={"Accept-Language": "zh"})
    assert r.headers["Content-Language"] == "zh-CN"


async def test_a_validation_error_is_translated_and_names_every_field(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": 5, "nonsense": True},
                              headers={**api.auth("alice"), "Accept-Language": "zh-CN"})
    assert r.status == 422
    error = (await r.json())["error"]
    assert error["code"] == "validation-failed"
    fields = error["details"]["fields"]
    assert set(fields) >= {"agent", "number"} and fields == list(dict.fromkeys(e["field"] for e in
                                                                                error["details"]["errors"]))
    assert error["message"] == f"请求中以下字段无效：{'、'.join(fields)}。"
    assert error["messages"]["en"] == f"the request has invalid fields: {', '.join(fields)}"
    assert {"field": "number", "message": "Field required", "type": "missing"} in error["details"]["errors"]


async def test_edge_errors_are_translated_too(api: Api) -> None:
    r = await api.client.get("/no/such/thing", headers=api.auth("alice"))
    assert r.status == 404 and r.headers["Content-Language"] == "zh-CN"
    assert (await r.json())["error"]["message"] == "没有这个接口地址。"
    headers = {**api.auth("alice"), "Accept-Language": "en", "Content-Type": "application/json"}
    r = await api.client.post("/v1/calls", data=b"x" * 5000, headers=headers)
    assert r.status == 413
    error = (await r.json())["error"]
    assert error["code"] == "body-too-large" and error["details"] == {"max_bytes": 4096}
    assert error["messages"]["zh-CN"] == "请求体过大，最多 4096 字节。"
    r = await api.client.post("/v1/calls", data=b"{not json", headers={**api.auth("alice"), "Accept-Language": "zh"})
    assert r.status == 400 and (await r.json())["error"]["message"] == "请求体不是有效的 JSON。"


async def test_a_refusal_names_the_roles_in_words(api: Api) -> None:
    r = await api.client.get("/v1/users", headers=api.auth("alice"))
    assert r.status == 403
    error = (await r.json())["error"]
    assert error["code"] == "forbidden" and error["details"]["role"] == "agent"
    assert error["message"].startswith("您的角色（坐席）无权执行此操作，需要：") and "管理员" in error["message"]


async def test_a_body_over_aiohttps_own_limit_is_413_in_the_one_shape() -> None:
    async def read(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application(middlewares=[errors_middleware], client_max_size=1024)
    app.router.add_post("/upload", read)
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/upload", data=b"x" * 2048, headers={"Accept-Language": "en"})
        assert r.status == 413 and r.headers["Content-Language"] == "en"
        error = (await r.json())["error"]
        assert error["code"] == "body-too-large"
        assert error["messages"] == {"zh-CN": "请求体过大。", "en": "the request body is too large"}
