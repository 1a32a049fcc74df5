"""The demo (``make run``) has a progressive campaign over agent1's cases that one API call starts."""

from __future__ import annotations

from sqlalchemy import update

from auth.models import User
from sandbox.run import DEMO_USERS, _demo_campaign, _demo_cases, _seed
from tests.unit.api.conftest import Api


async def test_the_demo_campaign_starts_in_one_call_and_is_reused_on_the_next_run(api: Api) -> None:
    async with api.container.db.begin() as s:  # the fixture's agents free the demo's SIP accounts
        await s.execute(update(User).where(User.sip_user.is_not(None)).values(sip_user=User.id + "-sip"))
    users = {u["name"]: u for u in await _seed(api.container, {u[2]: "sip-secret" for u in DEMO_USERS if u[2]})}
    cases = await _demo_cases(api.container)
    campaign_id = await _demo_campaign(api.container)
    assert await _demo_campaign(api.container) == campaign_id  # make run again: the same campaign
    sup = {"Authorization": f"Bearer {users['sup1']['token']}"}
    r = await api.client.post(f"/v1/campaigns/{campaign_id}/start", headers=sup)
    body = await r.json()
    assert r.status == 200 and (body["state"], body["mode"]) == ("running", "progressive"), body
    progress = (await (await api.client.get(f"/v1/campaigns/{campaign_id}", headers=sup)).json())["progress"]
    assert progress["agents"] == ["agent1"]
    assert progress["cases"] == 2  # agent1's demo-bank cases: the answering number and the do-not-call one
    agent1 = {"Authorization": f"Bearer {users['agent1']['token']}"}
    offer = (await (await api.client.get("/v1/agents/agent1/next", headers=agent1)).json())["offer"]
    assert offer is not None and offer["case_id"] in {cases["any_hour"], cases["do_not_call"]}
