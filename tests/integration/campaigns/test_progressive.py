"""A progressive campaign on the real stack (Asterisk 22, pjsua2 phones): with four of ana's cases and ana
available, the service places calls one after the other without any POST /v1/calls, each with its gate
decision, never two at once, after each wrap-up; pausing ana stops further calls.

Every case's number ends in 0486 (the customer line answers 486 Busy), so each call ends by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
NUMBERS = ("+8613811110486", "+8613822220486", "+8613833330486", "+8613844440486")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One service (SQLite): a 2 s wrap-up, a 0.3 s preview, ticks every 0.1 s."""
    async with service_stack(pbx, tmp_path_factory.mktemp("progressive"),
                             presence={"wrap_up_s": 2, "sweep_interval_s": 0.1},
                             campaigns={"progressive_preview_s": 0.3, "tick_s": 0.1}) as s:
        await s.container.presence.sync_devices("local")  # the users came after the first sync
        yield s


async def calls_of(stack: Stack, agent: str) -> list[dict[str, Any]]:
    body = await (await stack.client.get(f"/v1/calls?agent={agent}", headers=stack.auth("sup"))).json()
    return sorted(body["items"], key=lambda c: c["created_at"])


async def until(stack: Stack, predicate: Any, within: float = 60.0) -> list[dict[str, Any]]:
    """Poll ana's calls until ``predicate(calls)`` holds (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            calls = await calls_of(stack, "ana")
            if predicate(calls):
                return calls
            await asyncio.sleep(0.05)


async def test_progressive_calls_one_after_another_and_stops_when_the_agent_pauses(stack: Stack) -> None:
    cases = [await stack.case_for(number, "ana") for number in NUMBERS]
    r = await stack.client.post("/v1/campaigns", json={"client_id": "e2e-bank", "name": "progressive",
                                                       "mode": "progressive", "agent": "ana"},
                                headers=stack.auth("sup"))
    campaign = await r.json()
    assert r.status == 201, campaign
    base = f"/v1/campaigns/{campaign['id']}"
    assert (await stack.client.put(f"{base}/agents/ana", headers=stack.auth("ana"))).status == 204
    assert (await (await stack.client.get("/v1/agents/ana/state", headers=stack.auth("ana"))).json())[
        "state"] == "available"
    assert (await stack.client.post(f"{base}/start", headers=stack.auth("sup"))).status == 200

    calls = await until(stack, lambda cs: len(cs) >= 3 and all(c["state"] == "ended" for c in cs[:3]))
    # pause as soon as the third call ended (ana is in her 2 s wrap-up): no fourth call may follow
    r = await stack.client.put("/v1/agents/ana/state", json={"state": "paused", "pause_code": "break"},
                               headers=stack.auth("ana"))
    assert r.status == 200
    async with asyncio.timeout(30):  # an offer made before the pause goes back when its dial is refused
        while True:
            progress = (await (await stack.client.get(base, headers=stack.auth("sup"))).json())["progress"]
            if progress["offered"] == 0:
                break
            await asyncio.sleep(0.05)
    assert await stack.container.campaigns.tick() == 0  # paused: this instance neither offers nor dials
    calls = await calls_of(stack, "ana")
    first_three = calls[:3]
    assert len(calls) == 3, [c["number"] for c in calls]
    assert [c["case_id"] for c in first_three] == cases[:3]  # one case each, in the campaign's order
    assert all(c["decision_id"] and c["end_reason"] == "customer_busy" for c in first_three)
    for before, after in zip(first_three, first_three[1:], strict=False):  # never two at once, wrap-up between
        assert after["created_at"] >= before["ended_at"]
    history = await (await stack.client.get("/v1/agents/ana/history?limit=50", headers=stack.auth("sup"))).json()
    states = [h["state"] for h in reversed(history["items"])]
    assert states.count("wrap_up") >= 2 and states[-1] == "paused"
    assert (progress["cases"], progress["attempted"], progress["contacted"]) == (4, 3, 0)
