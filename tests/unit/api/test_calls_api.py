"""The calls API: authentication, roles, validation, the error shape, and what reaches the PBX."""

from __future__ import annotations

import asyncio
import json

from openapi_spec_validator import validate

from auth.models import Role
from auth.service import create_user
from dialer.translate import FactUpdate
from tests.support.doubles import AllowAllGate
from tests.unit.api.conftest import Api

CN_MOBILE = "+8613800000001"


def assert_error(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


async def test_no_token_is_401_and_unknown_token_is_401(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE})
    assert r.status == 401
    assert_error(await r.json(), "unauthorized")
    r = await api.client.get("/v1/calls", headers={"Authorization": "Bearer cg_nope"})
    assert r.status == 401
    assert not api.pbx.actions


async def test_agent_dials_as_themselves_only(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "bob", "number": CN_MOBILE}, headers=api.auth("alice"))
    assert r.status == 403
    assert_error(await r.json(), "not-your-agent")
    assert not api.pbx.actions


async def test_wrong_role_is_403(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("quinn"))
    assert r.status == 403
    assert_error(await r.json(), "forbidden")


async def test_request_call_returns_202_and_originates_with_e164(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "138 0000 0001"},
                              headers=api.auth("alice"))
    assert r.status == 202, await r.text()
    call = await r.json()
    assert call["state"] == "requested" and call["number"] == CN_MOBILE and call["agent"] == "alice"
    assert r.headers["Location"] == f"/v1/calls/{call['id']}"
    assert api.pbx.actions == [("originate", {"pbx": "local", "call_id": call["id"], "sip_user": "1001",
                                              "number": CN_MOBILE, "presented": None})]
    got = await api.client.get(f"/v1/calls/{call['id']}", headers=api.auth("alice"))
    assert (await got.json())["id"] == call["id"]
    # another agent cannot see it; a supervisor can
    assert (await api.client.get(f"/v1/calls/{call['id']}", headers=api.auth("bob"))).status == 404
    assert (await api.client.get(f"/v1/calls/{call['id']}", headers=api.auth("sam"))).status == 200


async def test_invalid_number_is_422_and_never_reaches_the_pbx(api: Api) -> None:
    for number in ["12345", "+86 1380000000000", "not a number", "+8613800000001\r\nAction: Hangup"]:
        r = await api.client.post("/v1/calls", json={"agent": "alice", "number": number}, headers=api.auth("alice"))
        assert r.status == 422, number
        assert_error(await r.json(), "invalid-number")
    assert not api.pbx.actions


async def test_crlf_in_agent_is_refused_by_validation(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice\r\nAction: Originate", "number": CN_MOBILE},
                              headers=api.auth("sam"))
    assert r.status == 422
    body = await r.json()
    assert_error(body, "validation-failed")
    assert body["error"]["details"]["errors"][0]["field"] == "agent"
    assert not api.pbx.actions


async def test_bad_json_unknown_fields_and_oversize(api: Api) -> None:
    r = await api.client.post("/v1/calls", data=b"{nope", headers=api.auth("alice"))
    assert r.status == 400
    assert_error(await r.json(), "bad-json")
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE, "x": 1},
                              headers=api.auth("alice"))
    assert r.status == 422
    r = await api.client.post("/v1/calls", data=b"{" + b" " * 10_000 + b"}", headers=api.auth("alice"))
    assert r.status == 413
    assert_error(await r.json(), "body-too-large")
    assert not api.pbx.actions


async def test_pbx_down_is_503_naming_the_upstream_and_the_call_is_failed(api: Api) -> None:
    api.pbx.down = True
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("alice"))
    assert r.status == 503
    body = await r.json()
    assert_error(body, "pbx-unavailable")
    assert body["error"]["details"]["upstream"] == "pbx"
    calls = await (await api.client.get("/v1/calls", headers=api.auth("alice"))).json()
    assert calls["items"][0]["state"] == "ended" and calls["items"][0]["end_reason"] == "failed"


async def test_an_instance_behind_on_the_pbx_events_sheds_new_dials(api: Api) -> None:
    """Under overload the calls already placed come first: with more PBX events waiting than
    dialer.max_event_backlog, a new dial is refused at once (503, Retry-After), before the gate or the database,
    so nothing is recorded and nothing dialled; at the limit it goes through."""
    limit = api.container.settings.dialer.max_event_backlog
    api.pbx.backlog = limit + 1
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE},
                              headers={**api.auth("alice"), "Accept-Language": "zh-CN"})
    assert r.status == 503 and r.headers["Retry-After"] == "1"
    body = await r.json()
    assert_error(body, "service-overloaded")
    assert body["error"]["details"] == {"backlog": limit + 1, "limit": limit, "retry_after_s": 1}
    assert f"{limit + 1} 个事件" in body["error"]["message"]
    calls = await (await api.client.get("/v1/calls", headers=api.auth("alice"))).json()
    assert calls["items"] == [] and not api.pbx.actions
    api.pbx.backlog = limit
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("alice"))
    assert r.status == 202
    assert [a for a, _ in api.pbx.actions] == ["originate"]


async def test_list_filters_and_cursor_pagination(api: Api) -> None:
    ids = []
    for _ in range(5):
        r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("alice"))
        ids.append((await r.json())["id"])
    await api.client.post("/v1/calls", json={"agent": "bob", "number": CN_MOBILE}, headers=api.auth("bob"))
    seen: list[str] = []
    url = "/v1/calls?agent=alice&limit=2"
    while url:
        page = await (await api.client.get(url, headers=api.auth("sam"))).json()
        seen += [c["id"] for c in page["items"]]
        url = f"/v1/calls?agent=alice&limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    own = await (await api.client.get("/v1/calls", headers=api.auth("bob"))).json()
    assert {c["agent"] for c in own["items"]} == {"bob"}
    bad = await api.client.get("/v1/calls?cursor=zzz", headers=api.auth("sam"))
    assert bad.status == 422  # the cursor's documented form: microseconds, "_", row id
    body = await bad.json()
    assert_error(body, "validation-failed")
    assert body["error"]["details"]["errors"][0]["field"] == "cursor"
    bad = await api.client.get("/v1/calls?state=flying", headers=api.auth("sam"))
    assert bad.status == 422


async def test_hangup_before_channel_is_known_hangs_up_when_it_appears(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("alice"))
    cid = (await r.json())["id"]
    r = await api.client.post(f"/v1/calls/{cid}/hangup", headers=api.auth("alice"))
    assert r.status == 202
    await api.container.calls.apply(FactUpdate(cid, "Newchannel", {"agent_channel": "PJSIP/1001-00000001"}))
    assert api.pbx.actions[-1] == ("hangup", {"pbx": "local", "channel": "PJSIP/1001-00000001"})


async def test_events_stream_agent_sees_own_supervisor_sees_all(api: Api) -> None:
    assert isinstance(api.container.gate, AllowAllGate)
    api.container.gate.client_id = "bank-a"  # the calls are bank A's, and so are bob and sam
    async with api.container.db.begin() as s:
        await create_user(s, user_id="bob", role=Role.AGENT, sip_user="1002", team="t1", clients=["bank-a"])
        await create_user(s, user_id="sam", role=Role.SUPERVISOR, team="t1", clients=["bank-a"])
    async def collect(user: str, n: int) -> list[dict]:
        out = []
        async with api.client.get("/v1/events", headers=api.auth(user)) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            async for line in resp.content:
                if line.startswith(b"data: "):
                    data = json.loads(line[6:])
                    if "type" in data:
                        out.append(data)
                        if len(out) == n:
                            return out
        return out

    bob_task = asyncio.create_task(collect("bob", 1))
    sam_task = asyncio.create_task(collect("sam", 2))
    await asyncio.wait_for(api.container.stream.wait_for_subscribers(2), 10)  # both before the events happen
    await api.client.post("/v1/calls", json={"agent": "alice", "number": CN_MOBILE}, headers=api.auth("alice"))
    await api.client.post("/v1/calls", json={"agent": "bob", "number": CN_MOBILE}, headers=api.auth("bob"))
    sam = await asyncio.wait_for(sam_task, 5)
    bob = await asyncio.wait_for(bob_task, 5)
    assert [e["type"] for e in sam] == ["call.requested", "call.requested"]
    assert {e["agent_id"] for e in sam} == {"alice", "bob"}
    assert [e["agent_id"] for e in bob] == ["bob"]


async def test_openapi_is_valid_3_1(api: Api) -> None:
    r = await api.client.get("/v1/openapi.json")
    spec = await r.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert "/v1/calls" in spec["paths"] and "post" in spec["paths"]["/v1/calls"]


async def test_health_and_unknown_route(api: Api) -> None:
    assert (await api.client.get("/healthz")).status == 200
    r = await api.client.get("/v1/nope", headers=api.auth("alice"))
    assert r.status == 404
    assert_error(await r.json(), "no-such-route")
