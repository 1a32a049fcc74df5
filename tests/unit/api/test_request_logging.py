"""Every request has an id (the caller's sane X-Request-Id, else a new one) in its answer and in every log line
logged while handling it; the access log has a line per request and never a credential."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.access import runner_options
from api.app import make_app
from core.logs import ContextFilter, JsonFormatter
from tests.unit.api.conftest import Api

TICKET = "tkt-very-secret-ticket-value"
COOKIE = "cg_session_secret_cookie_value"
PASSWORD = "pw-very-secret-1234"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON log lines of everything logged at INFO and above (as ``logging.json_format`` configures them)."""
    root = logging.getLogger()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def served(api: Api) -> AsyncIterator[TestClient[Any, Any]]:
    """The API served with the access log on, as ``callguard serve`` serves it."""
    server = TestServer(make_app(api.container))
    await server.start_server(**runner_options(access_log=True))  # TestServer(**kw) would drop them
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


async def test_a_request_id_is_on_every_line_of_the_request_and_in_the_answer(
        api: Api, served: TestClient[Any, Any], log_lines: io.StringIO) -> None:
    api.pbx.down = True  # the dial fails: the call service and the edge both log about it
    token = api.tokens["sam"]
    r = await served.post("/v1/calls?ticket=" + TICKET, json={"agent": "alice", "number": "+8613800000001"},
                          headers={"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42.a",
                                   "Cookie": f"cg_session={COOKIE}"})
    assert r.status == 503
    assert r.headers["X-Request-Id"] == "trace-42.a"
    lines = _lines(log_lines)
    dial = [x for x in lines if x["logger"] == "dialer.service"]
    assert len(dial) == 1 and dial[0]["request_id"] == "trace-42.a"
    assert dial[0]["call_id"]  # the line about the call names it
    edge = [x for x in lines if x["logger"] == "api.middleware"]
    assert edge and all(x["request_id"] == "trace-42.a" for x in edge)
    access = [x for x in lines if x["logger"] == "callguard.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "trace-42.a"
    assert access[0]["http"] == {**access[0]["http"], "method": "POST", "path": "/v1/calls", "status": 503}
    assert access[0]["http"]["duration_ms"] >= 0
    text = log_lines.getvalue()
    for secret in (token, TICKET, COOKIE, "Bearer"):
        assert secret not in text


async def test_a_bad_request_id_is_replaced_and_every_answer_has_one(
        api: Api, served: TestClient[Any, Any], log_lines: io.StringIO) -> None:
    r = await served.get("/healthz", headers={"X-Request-Id": "evil\tid {\"level\": \"ERROR\"}"})
    given = r.headers["X-Request-Id"]
    assert r.status == 200 and len(given) == 32 and "evil" not in given
    r = await served.get("/v1/calls")  # an error answer (401) has one too, a new one each time
    assert r.status == 401 and len(r.headers["X-Request-Id"]) == 32 and r.headers["X-Request-Id"] != given
    async with served.get("/v1/events", headers=api.auth("sam")) as stream:  # a stream, before its first byte
        assert stream.status == 200 and len(stream.headers["X-Request-Id"]) == 32
    access = [x for x in _lines(log_lines) if x["logger"] == "callguard.access"]
    assert [x["http"]["path"] for x in access][:2] == ["/healthz", "/v1/calls"]
    assert access[0]["request_id"] == given
    assert "evil" not in log_lines.getvalue()


async def test_a_password_and_a_session_never_reach_the_log(
        api: Api, served: TestClient[Any, Any], log_lines: io.StringIO) -> None:
    r = await served.post("/v1/session", json={"username": "sam", "password": PASSWORD})
    assert r.status == 401  # sam has no password: the answer is the same as for a wrong one
    r = await served.get("/v1/session", headers={"Cookie": f"cg_session={COOKIE}", "X-CSRF-Token": PASSWORD})
    assert r.status == 401
    text = log_lines.getvalue()
    assert "callguard.access" in text
    assert PASSWORD not in text and COOKIE not in text
