"""The console at ``/``: served by the service with a policy forbidding other origins; sign-in and its stream."""

from __future__ import annotations

import asyncio
import json
import re
from http.cookies import SimpleCookie
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.console import CONSOLE_DIR, CSP, add_console_routes
from api.middleware import errors_middleware
from auth.sessions import SESSION_COOKIE
from tests.unit.api.conftest import Api


async def test_the_page_and_its_assets_are_public_same_origin_and_under_a_strict_policy(api: Api) -> None:
    assert (CONSOLE_DIR / "index.html").is_file(), "the console is not built: make web"
    r = await api.client.get("/")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"] == CSP and r.headers["X-Frame-Options"] == "DENY"
    page = await r.text()
    assert "http://" not in page and "https://" not in page  # every asset is the service's own
    assets = re.findall(r'(?:src|href)="(/console/[^"]+)"', page)
    assert sorted(assets) == ["/console/console.css", "/console/console.js"]
    for path in assets:
        r = await api.client.get(path)
        assert r.status == 200, path
        assert "https://" not in (await r.text()).replace("https://github.com", "")  # no CDN (licence URLs aside)
    r = await api.client.get("/console/%2E%2E%2Fapi.db")  # a name, never a path
    assert r.status == 404
    r = await api.client.get("/console/nope.js")
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-route"
    assert "default-src 'none'" in CSP and "unsafe-inline" not in CSP and "*" not in CSP


async def test_an_unbuilt_console_says_how_to_build_it(api: Api, tmp_path: Path) -> None:
    app = web.Application(middlewares=[errors_middleware])
    add_console_routes(app, tmp_path / "missing")
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/")
        assert r.status == 404 and "make web" in (await r.json())["error"]["message"]


async def test_a_new_session_stream_is_not_ended_by_an_older_change_of_its_user(api: Api) -> None:
    """A change made while nobody listened (the admin gives the agent a team, then the agent signs in) is
    history for a stream opened later: it must not end the new session's stream."""
    ada = api.auth("ada")
    r = await api.client.put("/v1/users/alice/password", headers=ada, json={"password": "alice password 1"})
    assert r.status == 204
    # a user.changed event
    r = await api.client.patch("/v1/users/alice", headers=ada, json={"team": "t2", "clients": ["bank1"]})
    assert r.status == 200
    r = await api.client.post("/v1/session", json={"username": "alice", "password": "alice password 1"})
    session = await r.json()
    secret = SimpleCookie(r.headers["Set-Cookie"])[SESSION_COOKIE].value
    api.client.session.cookie_jar.clear()
    headers = {"Cookie": f"{SESSION_COOKIE}={secret}"}
    r = await api.client.post("/v1/events/tickets", headers={**headers, "X-CSRF-Token": session["csrf_token"]})
    ticket = (await r.json())["ticket"]
    resp = await api.client.get(f"/v1/events?ticket={ticket}")
    names: list[str] = []
    reasons: list[str] = []

    async def read() -> None:
        async for raw in resp.content:
            line = raw.decode().strip()
            if line.startswith("event:"):
                names.append(line.split(":", 1)[1].strip())
            elif line.startswith("data:") and names[-1] == "session.ended":
                reasons.append(json.loads(line.split(":", 1)[1])["reason"])

    reader = asyncio.create_task(read())
    await api.container.stream.wait_for_subscribers(1)
    r = await api.client.delete("/v1/session", headers={**headers, "X-CSRF-Token": session["csrf_token"]})
    assert r.status == 204
    async with asyncio.timeout(5):
        await reader
    # the stream ended because of the sign-out, not because of the older change (which would come first)
    assert names == ["hello", "session.ended"] and reasons == ["token.revoked"], (names, reasons)
