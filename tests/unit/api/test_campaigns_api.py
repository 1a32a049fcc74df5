"""The campaigns API: create, start, join, the next case, skip, stop, progress; roles and walls."""

from __future__ import annotations

from datetime import UTC, datetime

from cases.rows import CaseIn
from cases.service import upsert_case
from tests.unit.api.conftest import Api
from tests.unit.api.test_presence_api import _users


async def _case(api: Api, ext: str, agent: str, number: str) -> str:
    data = CaseIn.model_validate({"external_id": ext, "debtor_name": "Li", "amount": "10.00", "currency": "CNY",
                                  "agent": agent, "team": "ta", "contacts": [{"number": number, "kind": "mobile"}]})
    async with api.container.db.begin() as s:
        result = await upsert_case(s, api.container.events, client_id="bank-a", data=data, now=datetime.now(UTC),
                                   by="t")
    return result.case_id


async def test_a_preview_campaign_from_creation_to_stop(api: Api) -> None:
    await _users(api)
    case_id = await _case(api, "E1", "ann", "+8613800000051")
    r = await api.client.post("/v1/campaigns", json={"client_id": "bank-a", "name": "Dec"}, headers=api.auth("ann"))
    assert r.status == 403
    r = await api.client.post("/v1/campaigns", json={"client_id": "bank-b", "name": "Dec"}, headers=api.auth("sue"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-client"
    r = await api.client.post("/v1/campaigns", json={"client_id": "bank-a", "name": "Dec"}, headers=api.auth("sue"))
    campaign = await r.json()
    assert r.status == 201, campaign
    assert r.headers["Location"] == f"/v1/campaigns/{campaign['id']}" and campaign["state"] == "draft"
    base = f"/v1/campaigns/{campaign['id']}"
    assert (await api.client.post(f"{base}/start", headers=api.auth("sue"))).status == 200
    assert (await api.client.put(f"{base}/agents/ann", headers=api.auth("ann"))).status == 204
    assert (await api.client.put(f"{base}/agents/abe", headers=api.auth("ann"))).status == 404  # not ann's to do
    offer = (await (await api.client.get("/v1/agents/ann/next", headers=api.auth("ann"))).json())["offer"]
    assert (offer["case_id"], offer["number"], offer["reason"]) == (case_id, "+8613800000051", "first_call")
    r = await api.client.post("/v1/agents/ann/next/skip", json={"reason": "wrong time"}, headers=api.auth("ann"))
    assert r.status == 204
    r = await api.client.post("/v1/agents/ann/next/skip", json={"reason": "again"}, headers=api.auth("ann"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-offer"
    assert (await (await api.client.get("/v1/agents/ann/next", headers=api.auth("ann"))).json()) == {"offer": None}
    got = await (await api.client.get(base, headers=api.auth("max"))).json()
    progress = got["progress"]
    assert (progress["cases"], progress["left"], progress["agents"]) == (1, 1, ["ann"])
    assert progress["next_scheduled_at"] is not None
    assert (await api.client.get(base, headers=api.auth("bea"))).status == 404
    assert (await api.client.post(f"{base}/stop", headers=api.auth("max"))).status == 200
    r = await api.client.post(f"{base}/start", headers=api.auth("sue"))
    assert r.status == 409 and (await r.json())["error"]["code"] == "campaign-state-conflict"
    listed = await (await api.client.get("/v1/campaigns", headers=api.auth("ann"))).json()
    assert [c["id"] for c in listed["items"]] == [campaign["id"]]
    assert (await (await api.client.get("/v1/campaigns", headers=api.auth("bea"))).json())["items"] == []
