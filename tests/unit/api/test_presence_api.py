"""The agents and callbacks API: routes, roles, the error shape, the dial's 409, what each caller sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auth.models import Role
from auth.service import create_user, issue_token
from dialer.translate import FactUpdate
from tests.support.doubles import AllowAllGate
from tests.unit.api.conftest import Api

CN_MOBILE = "+8613800000001"


async def _users(api: Api) -> None:
    """Agents of two banks and teams, their supervisor and a bank's manager."""
    async with api.container.db.begin() as s:
        for uid, role, sip, team, clients in (("ann", Role.AGENT, "2001", "ta", ["bank-a"]),
                                              ("abe", Role.AGENT, "2002", "ta", ["bank-a"]),
                                              ("bea", Role.AGENT, "2003", "tb", ["bank-b"]),
                                              ("sue", Role.SUPERVISOR, None, "ta", ["bank-a"]),
                                              ("max", Role.MANAGER, None, None, ["bank-a"])):
            await create_user(s, user_id=uid, role=role, sip_user=sip, team=team, clients=clients)
            api.tokens[uid] = await issue_token(s, user_id=uid)


async def _json(resp: Any) -> Any:
    return await resp.json()


async def test_an_agent_pauses_itself_and_is_not_dialled_for_until_available(api: Api) -> None:
    await _users(api)
    r = await api.client.put("/v1/agents/ann/state", json={"state": "paused", "pause_code": "break"},
                             headers=api.auth("ann"))
    body = await r.json()
    assert r.status == 200, body
    assert (body["agent"], body["state"], body["pause_code"], body["team"]) == ("ann", "paused", "break", "ta")
    r = await api.client.post("/v1/calls", json={"agent": "ann", "number": CN_MOBILE}, headers=api.auth("ann"))
    err = await r.json()
    assert r.status == 409 and err["error"]["code"] == "agent-not-available"
    assert err["error"]["details"]["pause_code"] == "break"
    assert not api.pbx.actions
    r = await api.client.put("/v1/agents/ann/state", json={"state": "available"}, headers=api.auth("sue"))
    assert r.status == 200 and (await r.json())["state"] == "available"
    r = await api.client.post("/v1/calls", json={"agent": "ann", "number": CN_MOBILE}, headers=api.auth("ann"))
    assert r.status == 202
    history = await _json(await api.client.get("/v1/agents/ann/history", headers=api.auth("sue")))
    assert [h["state"] for h in history["items"]] == ["available", "paused"]
    assert history["items"][1]["changed_by"] == "ann" and history["items"][0]["changed_by"] == "sue"


async def test_refusals_have_the_one_error_shape(api: Api) -> None:
    await _users(api)
    cases = [
        ("ann", "/v1/agents/abe/state", {"state": "available"}, 404, "agent-not-found"),
        ("sue", "/v1/agents/bea/state", {"state": "available"}, 404, "agent-not-found"),
        ("max", "/v1/agents/ann/state", {"state": "available"}, 403, "forbidden"),
        ("ann", "/v1/agents/ann/state", {"state": "on_call"}, 422, "state-not-settable"),
        ("ann", "/v1/agents/ann/state", {"state": "paused"}, 422, "unknown-pause-code"),
        ("ann", "/v1/agents/ann/state", {"state": "paused", "pause_code": "lunch"}, 422, "unknown-pause-code"),
        ("ann", "/v1/agents/ann/state", {"state": "sleeping"}, 422, "validation-failed"),
    ]
    for who, path, data, status, code in cases:
        r = await api.client.put(path, json=data, headers=api.auth(who))
        body = await r.json()
        assert (r.status, body["error"]["code"]) == (status, code), (who, path, data, body)
        assert body["error"]["message"]
    r = await api.client.get("/v1/agents/bea/state", headers=api.auth("max"))
    assert r.status == 404
    r = await api.client.get("/v1/agents", headers=api.auth("quinn"))
    assert r.status == 403


async def test_each_caller_sees_its_own_agents(api: Api) -> None:
    await _users(api)

    async def agents(who: str, query: str = "") -> list[str]:
        body = await _json(await api.client.get(f"/v1/agents{query}", headers=api.auth(who)))
        return [a["agent"] for a in body["items"]]

    assert await agents("ann") == ["ann"]
    assert await agents("sue") == ["abe", "ann"]
    assert await agents("max") == ["abe", "ann"]
    assert set(await agents("ada")) >= {"abe", "ann", "bea", "alice", "bob"}
    await api.client.put("/v1/agents/abe/state", json={"state": "paused", "pause_code": "meeting"},
                         headers=api.auth("abe"))
    assert await agents("sue", "?state=paused") == ["abe"]
    one = await _json(await api.client.get("/v1/agents/abe/state", headers=api.auth("max")))
    assert (one["state"], one["pause_code"], one["registered"]) == ("paused", "meeting", None)
    never = await _json(await api.client.get("/v1/agents/ann/state", headers=api.auth("ann")))
    assert (never["state"], never["since"]) == ("available", None)  # presence has not heard of ann yet


async def test_a_call_and_its_disposition_through_the_api_wrap_up_and_schedule_a_callback(api: Api) -> None:
    await _users(api)
    assert isinstance(api.container.gate, AllowAllGate)
    api.container.gate.client_id = "bank-a"  # the gate's decision: bank A's case
    r = await api.client.post("/v1/calls", json={"agent": "ann", "number": CN_MOBILE, "case_id": "case-1"},
                              headers=api.auth("ann"))
    call = await r.json()
    now = datetime.now(UTC)
    for facts in ({"agent_ringing_at": now, "agent_channel": "PJSIP/2001-1"}, {"agent_answered_at": now},
                  {"customer_ringing_at": now, "answered_at": now}, {"ended_at": now + timedelta(seconds=5)}):
        await api.container.calls.apply(FactUpdate(call["id"], "test", facts))
    state = await _json(await api.client.get("/v1/agents/ann/state", headers=api.auth("ann")))
    assert (state["state"], state["call_id"]) == ("wrap_up", call["id"]) and state["wrap_up_until"]
    due = (now + timedelta(hours=2)).isoformat()
    r = await api.client.post(f"/v1/calls/{call['id']}/disposition",
                              json={"outcome": "callback_requested", "callback_at": due}, headers=api.auth("ann"))
    assert r.status in (200, 201), await r.text()
    state = await _json(await api.client.get("/v1/agents/ann/state", headers=api.auth("ann")))
    assert state["state"] == "available"
    mine = await _json(await api.client.get("/v1/callbacks", headers=api.auth("ann")))
    assert [(c["agent"], c["source_call_id"], c["state"]) for c in mine["items"]] == [("ann", call["id"], "scheduled")]
    team = await _json(await api.client.get("/v1/callbacks?view=team", headers=api.auth("sue")))
    assert [c["case_id"] for c in team["items"]] == ["case-1"]
    assert (await _json(await api.client.get("/v1/callbacks?view=team", headers=api.auth("max"))))["items"] == []
    occupancy = await _json(await api.client.get(
        f"/v1/agents/occupancy?from={(now - timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}"
        f"&to={(now + timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}", headers=api.auth("sue")))
    [row] = occupancy["items"]
    assert row["agent_id"] == "ann" and row["wrap_up_s"] > 0 and row["occupancy"] is not None
