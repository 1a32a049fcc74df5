"""GET /v1/audit: every user and token change is on the record, readable by managers and admins, exportable."""

from __future__ import annotations

import json

from tests.support.cluster import Cluster


async def test_user_and_token_changes_are_on_the_record_with_before_and_after(cluster: Cluster) -> None:
    c, ada = cluster.a.client, cluster.auth("ada")
    r = await c.post("/v1/users", headers={**ada, "X-Request-Id": "req-42"},
                     json={"id": "quinn", "role": "qa", "clients": ["bank1"], "reason": "QA hire"})
    assert r.status == 201
    token = await (await c.post("/v1/users/quinn/tokens", headers=ada, json={"label": "qa"})).json()
    await c.patch("/v1/users/quinn", headers=ada, json={"team": "t2", "reason": "moved"})
    await c.patch("/v1/users/quinn", headers=ada, json={"team": "t2"})  # no change: nothing recorded
    await c.patch("/v1/users/quinn", headers=ada, json={"active": False, "reason": "left"})
    await c.post(f"/v1/tokens/{token['id']}/revoke", headers=ada, json={"reason": "left"})
    r = await cluster.b.client.get("/v1/audit", headers=ada, params={"target_id": "quinn"})
    entries = (await r.json())["items"]
    assert [e["action"] for e in entries] == ["user.deactivated", "user.updated", "user.created"]
    created = entries[-1]
    assert (created["actor_id"], created["actor_role"], created["client_id"], created["reason"],
            created["request_id"], created["before"]) == ("ada", "admin", "bank1", "QA hire", "req-42", None)
    assert created["after"]["role"] == "qa" and created["address"] == "127.0.0.1"
    assert (entries[1]["before"]["team"], entries[1]["after"]["team"]) == (None, "t2")
    assert (entries[0]["before"]["active"], entries[0]["after"]["active"]) == (True, False)
    r = await c.get("/v1/audit", headers=ada, params={"action": "token.*"})
    tokens = (await r.json())["items"]
    assert [e["action"] for e in tokens] == ["token.revoked", "token.issued"]
    assert all(e["target_id"] == token["id"] for e in tokens)
    assert token["token"] not in json.dumps(tokens)  # the secret is never recorded
    assert tokens[0]["before"]["revoked_at"] is None and tokens[0]["after"]["revoked_by"] == "ada"


async def test_managers_read_their_clients_entries_and_others_are_refused(cluster: Cluster) -> None:
    ada = cluster.auth("ada")
    await cluster.a.client.post("/v1/users", headers=ada, json={"id": "b1", "role": "qa", "clients": ["bank1"]})
    await cluster.a.client.post("/v1/users", headers=ada, json={"id": "b2", "role": "qa", "clients": ["bank2"]})
    r = await cluster.a.client.get("/v1/audit", headers=cluster.auth("mia"))  # mia serves bank1
    assert r.status == 200
    assert [e["target_id"] for e in (await r.json())["items"]] == ["b1"]
    for user in ("alice", "hook"):
        r = await cluster.a.client.get("/v1/audit", headers=cluster.auth(user))
        assert r.status == 403


async def test_the_ndjson_export_streams_and_is_itself_recorded(cluster: Cluster) -> None:
    ada = cluster.auth("ada")
    for i in range(3):
        await cluster.a.client.post("/v1/users", headers=ada, json={"id": f"u{i}", "role": "qa", "clients": ["bank1"]})
    r = await cluster.a.client.get("/v1/audit", headers=ada, params={"format": "ndjson", "action": "user.created"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
    lines = (await r.text()).splitlines()
    assert [json.loads(line)["target_id"] for line in lines] == ["u2", "u1", "u0"]
    r = await cluster.a.client.get("/v1/audit", headers=ada, params={"action": "audit.exported"})
    (exported,) = (await r.json())["items"]
    assert exported["actor_id"] == "ada" and exported["after"] == {"filters": {"action": "user.created",
                                                                                "format": "ndjson"}}
    r = await cluster.a.client.get("/v1/audit", headers=ada, params={"cursor": "garbage"})
    assert r.status == 422 and (await r.json())["error"]["code"] == "validation-failed"
