"""Two service instances on one PostgreSQL run one progressive campaign against one PBX (Asterisk 22, pjsua2
phones): every case is dialled once, and neither agent ever has two calls at once, whichever instance dials.

Each instance hears every AMI event and ticks on its own; only the entry claims (offers with leases, the
UPDATE offered -> dialling) decide who dials. Every number ends in 0486 (the customer line is busy), so each
call ends by itself and its case waits out its busy retry: one attempt per case during the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, _service_stack, database_url

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
CASES = {"ana": ("+8613855510486", "+8613855520486", "+8613855530486"),
         "pete": ("+8613866610486", "+8613866620486", "+8613866630486")}
FAST = {"presence": {"wrap_up_s": 1, "sweep_interval_s": 0.1},
        "campaigns": {"progressive_preview_s": 0.3, "tick_s": 0.1}}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stacks(pbx: PbxSandbox, phones: PhonesProcess,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Stack, Stack]]:
    """Instances a and b over one PostgreSQL database, both connected to the PBX."""
    tmp = tmp_path_factory.mktemp("two")
    async with database_url("postgres", tmp) as url, AsyncExitStack() as exits:
        a = await exits.enter_async_context(_service_stack(pbx, tmp / "a", url, ami_port=None, ami={}, **FAST))
        b = await exits.enter_async_context(_service_stack(pbx, tmp / "b", url, ami_port=None, ami={}, **FAST))
        await a.container.presence.sync_devices("local")
        yield a, b


async def all_calls(stack: Stack) -> list[dict[str, Any]]:
    body = await (await stack.client.get("/v1/calls?limit=500", headers=stack.auth("sup"))).json()
    return sorted(body["items"], key=lambda c: c["created_at"])


async def test_one_campaign_two_instances_no_case_twice_no_agent_two_calls(stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    case_ids = {agent: [await a.case_for(n, agent) for n in numbers] for agent, numbers in CASES.items()}
    r = await a.client.post("/v1/campaigns", json={"client_id": "e2e-bank", "name": "two instances",
                                                   "mode": "progressive"}, headers=a.auth("sup"))
    campaign = await r.json()
    assert r.status == 201, campaign
    base = f"/v1/campaigns/{campaign['id']}"
    for agent, stack in (("ana", a), ("pete", b)):
        assert (await stack.client.put(f"{base}/agents/{agent}", headers=stack.auth(agent))).status == 204
        state = await (await stack.client.get(f"/v1/agents/{agent}/state", headers=stack.auth(agent))).json()
        assert state["state"] == "available", state
    assert (await b.client.post(f"{base}/start", headers=b.auth("sup"))).status == 200

    wanted = {c for ids in case_ids.values() for c in ids}
    async with asyncio.timeout(90):
        while True:
            calls = [c for c in await all_calls(a) if c["case_id"] in wanted]
            if {c["case_id"] for c in calls} == wanted and all(c["state"] == "ended" for c in calls):
                break
            await asyncio.sleep(0.2)
    assert (await b.client.post(f"{base}/stop", headers=b.auth("sup"))).status == 200
    calls = [c for c in await all_calls(b) if c["case_id"] in wanted]
    assert sorted(c["case_id"] for c in calls) == sorted(wanted)  # each case dialled once, by one instance
    for agent, ids in case_ids.items():
        mine = [c for c in calls if c["agent"] == agent]
        assert {c["case_id"] for c in mine} == set(ids)
        for before, after in zip(mine, mine[1:], strict=False):  # never two calls at once for one agent
            assert after["created_at"] >= before["ended_at"], (before, after)
    progress = (await (await a.client.get(base, headers=a.auth("sup"))).json())["progress"]
    assert (progress["cases"], progress["attempted"]) == (6, 6)
