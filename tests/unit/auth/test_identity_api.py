"""Users, tokens, tickets and the throttle through the HTTP API of two instances sharing one database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientResponse
from openapi_spec_validator import validate
from sqlalchemy import func, select, update

from auth.models import ApiToken, AuthFailure, User
from auth.service import issue_token
from tests.support.cluster import Cluster, Instance


def code(body: dict[str, Any]) -> str:
    return str(body["error"]["code"])


async def stream_until_end(resp: ClientResponse) -> list[str]:
    """The event names of an SSE response until the server ends it."""
    names = []
    async for raw in resp.content:
        line = raw.decode().strip()
        if line.startswith("event:"):
            names.append(line.split(":", 1)[1].strip())
    return names


async def open_stream(inst: Instance, **kw: Any) -> tuple[ClientResponse, asyncio.Task[list[str]]]:
    resp = await inst.client.get("/v1/events", **kw)
    assert resp.status == 200, await resp.text()
    task = asyncio.create_task(stream_until_end(resp))
    await asyncio.sleep(0.3)  # subscribed before the change happens
    return resp, task


async def test_admin_creates_a_user_issues_a_token_shown_once_and_lists_tokens(cluster: Cluster) -> None:
    c = cluster.a.client
    r = await c.post("/v1/users", headers=cluster.auth("ada"),
                     json={"id": "max", "role": "manager", "clients": ["bank2", "bank1", "bank2"], "team": "t9",
                           "reason": "new hire"})
    assert r.status == 201, await r.text()
    assert (await r.json())["clients"] == ["bank1", "bank2"]
    r = await c.post("/v1/users", headers=cluster.auth("ada"), json={"id": "max", "role": "qa", "clients": ["b"]})
    assert r.status == 409 and code(await r.json()) == "user-exists"
    r = await c.post("/v1/users/max/tokens", headers=cluster.auth("ada"), json={"label": "laptop"})
    assert r.status == 201
    issued = await r.json()
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    # the token works at once, on the other instance too, and its use is noted
    r = await cluster.b.client.get("/v1/audit", headers={"Authorization": f"Bearer {issued['token']}"})
    assert r.status == 200
    r = await c.get("/v1/users/max/tokens", headers=cluster.auth("ada"))
    (listed,) = (await r.json())["items"]
    assert "token" not in listed and listed["id"] == issued["id"] and listed["label"] == "laptop"
    assert listed["last_used_at"] is not None
    r = await c.get("/v1/users", headers=cluster.auth("ada"), params={"client": "bank2"})
    assert [u["id"] for u in (await r.json())["items"]] == ["max"]


async def test_user_and_token_rules_answer_in_the_one_error_shape(cluster: Cluster) -> None:
    c, ada = cluster.a.client, cluster.auth("ada")
    r = await c.post("/v1/users", headers=ada, json={"id": "i2", "role": "integration", "clients": ["a", "b"]})
    assert r.status == 422 and code(await r.json()) == "invalid-clients"
    r = await c.post("/v1/users", headers=ada, json={"id": "q2", "role": "qa", "clients": []})
    assert r.status == 422 and code(await r.json()) == "invalid-clients"
    r = await c.post("/v1/users", headers=ada, json={"id": "root2", "role": "admin"})
    assert r.status == 201  # a global admin
    taken = (await (await c.get("/v1/users/alice", headers=ada)).json())["sip_user"]
    r = await c.post("/v1/users", headers=ada, json={"id": "al2", "role": "agent", "clients": ["a"], "sip_user": taken})
    assert r.status == 409 and code(await r.json()) == "sip-user-taken"  # not a 500 from the unique index
    r = await c.patch("/v1/users/root2", headers=ada, json={"role": "agent", "clients": ["a"], "sip_user": taken})
    assert r.status == 409 and code(await r.json()) == "sip-user-taken"
    r = await c.post("/v1/users/alice/tokens", headers=ada, json={"expires_in_days": 91})
    assert r.status == 422 and code(await r.json()) == "token-lifetime-too-long"
    r = await c.post("/v1/users/hook/tokens", headers=ada, json={"expires_in_days": 700})
    assert r.status == 201  # an integration token's lifetime is set per token
    r = await c.post("/v1/users/nobody/tokens", headers=ada, json={})
    assert r.status == 404 and code(await r.json()) == "no-such-user"
    r = await c.post("/v1/tokens/nope/revoke", headers=ada, json={})
    assert r.status == 404 and code(await r.json()) == "no-such-token"
    for user in ("mia", "alice", "hook"):
        r = await c.get("/v1/users", headers=cluster.auth(user))
        assert r.status == 403 and code(await r.json()) == "forbidden"


async def test_a_revoked_token_is_refused_at_once_on_every_instance(cluster: Cluster) -> None:
    r = await cluster.a.client.get("/v1/users/alice/tokens", headers=cluster.auth("ada"))
    (token,) = (await r.json())["items"]
    r = await cluster.a.client.post(f"/v1/tokens/{token['id']}/revoke", headers=cluster.auth("ada"),
                                    json={"reason": "lost phone"})
    assert r.status == 200 and (await r.json())["revoked_by"] == "ada"
    r = await cluster.b.client.get("/v1/calls", headers=cluster.auth("alice"))
    assert r.status == 401 and code(await r.json()) == "token-revoked"


async def test_an_expired_token_is_refused(cluster: Cluster) -> None:
    async with cluster.a.container.db.begin() as s:
        old = await issue_token(s, user_id="mia", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    r = await cluster.a.client.get("/v1/audit", headers={"Authorization": f"Bearer {old}"})
    assert r.status == 401 and code(await r.json()) == "token-expired"


async def test_deactivation_refuses_the_next_request_and_ends_open_streams_on_other_instances(
        cluster: Cluster) -> None:
    resp, names = await open_stream(cluster.a, headers=cluster.auth("alice"))
    r = await cluster.b.client.patch("/v1/users/alice", headers=cluster.auth("ada"),
                                     json={"active": False, "reason": "left the agency"})
    assert r.status == 200 and (await r.json())["active"] is False
    r = await cluster.a.client.get("/v1/calls", headers=cluster.auth("alice"))
    assert r.status == 401 and code(await r.json()) == "user-deactivated"
    assert await asyncio.wait_for(names, 5) == ["hello", "session.ended"]
    resp.release()
    # others' streams are untouched by alice's deactivation; re-activation lets the same token in again
    r = await cluster.b.client.patch("/v1/users/alice", headers=cluster.auth("ada"), json={"active": True})
    assert (await r.json())["active"] is True
    assert (await cluster.a.client.get("/v1/calls", headers=cluster.auth("alice"))).status == 200


async def test_a_stream_that_missed_the_session_event_still_ends_at_its_next_recheck(cluster: Cluster) -> None:
    resp, names = await open_stream(cluster.a, headers=cluster.auth("mia"))
    other, other_names = await open_stream(cluster.a, headers=cluster.auth("ada"))
    async with cluster.b.container.db.begin() as s:  # behind the service's back: no session event is written
        await s.execute(update(User).where(User.id == "mia").values(role="qa"))
    assert await asyncio.wait_for(names, 5) == ["hello", "session.ended"]
    await asyncio.sleep(0.7)
    assert not other_names.done()  # ada's checks pass: her stream goes on
    other_names.cancel()
    other.close()
    resp.release()


async def test_a_ticket_opens_one_stream_once_and_its_token_revocation_ends_it(cluster: Cluster) -> None:
    r = await cluster.a.client.post("/v1/events/tickets", headers=cluster.auth("mia"))
    assert r.status == 201
    ticket = await r.json()
    assert ticket["purpose"] == "events" and ticket["ticket"].startswith("cgt_")
    assert datetime.fromisoformat(ticket["expires_at"]) - datetime.now(UTC) <= timedelta(seconds=60)
    # a ticket is good for the event stream only
    r = await cluster.b.client.get("/v1/audit", params={"ticket": ticket["ticket"]})
    assert r.status == 401
    mia_other, mia_stream = await open_stream(cluster.b, params={"ticket": ticket["ticket"]})
    ada_resp, ada_stream = await open_stream(cluster.b, headers=cluster.auth("ada"))
    r = await cluster.a.client.get("/v1/events", params={"ticket": ticket["ticket"]})
    assert r.status == 401 and code(await r.json()) == "invalid-ticket"  # single use
    r = await cluster.a.client.get("/v1/users/mia/tokens", headers=cluster.auth("ada"))
    (token,) = (await r.json())["items"]
    await cluster.a.client.post(f"/v1/tokens/{token['id']}/revoke", headers=cluster.auth("ada"), json={})
    assert await asyncio.wait_for(mia_stream, 5) == ["hello", "session.ended"]
    await asyncio.sleep(0.3)
    assert not ada_stream.done()  # another user's stream goes on, and never sees the session event
    ada_stream.cancel()
    ada_resp.close()
    mia_other.release()


async def test_the_long_lived_token_is_refused_in_the_query_string(cluster: Cluster) -> None:
    r = await cluster.a.client.get("/v1/events", params={"access_token": cluster.tokens["ada"]})
    assert r.status == 401 and code(await r.json()) == "query-token-refused"


async def test_failed_sign_ins_are_recorded_slowed_down_then_refused_across_instances(cluster: Cluster) -> None:
    bad = {"Authorization": "Bearer cg_guess"}
    for inst in (cluster.a, cluster.b, cluster.a, cluster.b):
        r = await inst.client.get("/v1/calls", headers=bad)
        assert r.status == 401 and code(await r.json()) == "unknown-token"
    assert cluster.sleeps == [0.1, 0.2, 0.25]  # from the 2nd failure on, capped
    # the address is now refused for a while, even with a good token, on either instance
    for inst in (cluster.a, cluster.b):
        r = await inst.client.get("/v1/calls", headers=cluster.auth("ada"))
        assert r.status == 429 and code(await r.json()) == "too-many-failed-sign-ins"
        assert 55 <= int(r.headers["Retry-After"]) <= 60
    async with cluster.a.container.db.read() as s:
        rows = (await s.execute(select(AuthFailure.reason, func.count()).group_by(AuthFailure.reason))).all()
    assert [tuple(r) for r in rows] == [("unknown-token", 4)]


async def test_last_use_is_written_at_most_once_per_resolution(cluster: Cluster) -> None:
    for _ in range(3):
        assert (await cluster.a.client.get("/v1/calls", headers=cluster.auth("ada"))).status == 200
    async with cluster.a.container.db.read() as s:
        first = await s.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == "ada"))
    assert first is not None
    assert (await cluster.b.client.get("/v1/calls", headers=cluster.auth("ada"))).status == 200
    async with cluster.a.container.db.read() as s:
        assert await s.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == "ada")) == first


async def test_identity_routes_are_in_the_openapi_document(cluster: Cluster) -> None:
    spec = await (await cluster.a.client.get("/v1/openapi.json")).json()
    for path in ("/v1/users", "/v1/users/{user_id}", "/v1/users/{user_id}/tokens", "/v1/tokens/{token_id}/revoke",
                 "/v1/events/tickets", "/v1/audit"):
        assert path in spec["paths"], path
    assert "429" in spec["paths"]["/v1/events/tickets"]["post"]["responses"]
    assert json.dumps(spec).count("IssuedToken") >= 1
    params = {p["name"] for p in spec["paths"]["/v1/events"]["get"]["parameters"]}
    assert params == {"types", "ticket"}
    validate(spec)


async def test_an_admin_of_some_clients_manages_only_their_users_and_never_makes_a_global_admin(
        cluster: Cluster) -> None:
    c, ada = cluster.a.client, cluster.auth("ada")
    r = await c.post("/v1/users", headers=ada, json={"id": "bob", "role": "admin", "clients": ["bank1"]})
    assert r.status == 201
    issued = await (await c.post("/v1/users/bob/tokens", headers=ada, json={})).json()
    bob = {"Authorization": f"Bearer {issued['token']}"}
    await c.post("/v1/users", headers=ada, json={"id": "zed", "role": "qa", "clients": ["bank2"]})
    for body in ({"id": "x1", "role": "qa", "clients": ["bank2"]}, {"id": "x2", "role": "admin"},
                 {"id": "x3", "role": "qa", "clients": ["bank1", "bank2"]}):
        r = await c.post("/v1/users", headers=bob, json=body)
        assert r.status == 403 and code(await r.json()) == "client-out-of-scope", body
    assert (await c.post("/v1/users", headers=bob, json={"id": "q1", "role": "qa", "clients": ["bank1"]})).status == 201
    r = await c.get("/v1/users", headers=bob)
    assert [u["id"] for u in (await r.json())["items"]] == ["alice", "bob", "hook", "mia", "q1"]
    for path in ("/v1/users/ada", "/v1/users/zed", "/v1/users/zed/tokens"):
        r = await c.get(path, headers=bob)
        assert r.status == 404 and code(await r.json()) == "no-such-user", path
    r = await c.patch("/v1/users/mia", headers=bob, json={"clients": ["bank1", "bank2"]})
    assert r.status == 403 and code(await r.json()) == "client-out-of-scope"
    r = await c.patch("/v1/users/zed", headers=bob, json={"active": False})
    assert r.status == 404
    ada_token = (await (await c.get("/v1/users/ada/tokens", headers=ada)).json())["items"][0]["id"]
    r = await c.post(f"/v1/tokens/{ada_token}/revoke", headers=bob, json={})
    assert r.status == 404 and code(await r.json()) == "no-such-token"
    assert (await c.get("/v1/calls", headers=ada)).status == 200  # untouched
