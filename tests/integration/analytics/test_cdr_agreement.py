"""The reports agree with Asterisk's own CDR for calls placed through the real Asterisk 22 and real SIP phones.

Calls: answered and hung up by the agent after a short talk (twice), answered and hung up by the customer,
busy, no answer, unreachable (503) and an agent who never answers. The ``Cdr`` events come from the sandbox's
tooling AMI account (the service's own account reads only the ``call`` class); ``analytics.cdr`` turns them
into per-call figures, which must match the ``calls`` rows (talk time within 1 s per call) and the
connect-rate / talk-time reports served by the API, before and after the rollup is refreshed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from analytics.cdr import cdr_calls, cdr_totals
from analytics.models import dirty
from analytics.rollup import refresh
from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> AsyncIterator[Stack]:
    async with service_stack(pbx, tmp_path) as s:
        yield s


async def _place(stack: Stack, agent: str, number: str, talk: float | None = None) -> str:
    """Dial; when ``talk`` is given, the agent hangs up that long after the customer answered."""
    call = await stack.dial(agent, number)
    if talk is not None:
        await stack.wait_state(call["id"], "answered")
        await asyncio.sleep(talk)  # produces talk time; nothing is asserted about timing
        r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth(agent))
        assert r.status == 202
    await stack.wait_state(call["id"], "ended")
    return str(call["id"])


async def _lane(stack: Stack, agent: str, plan: list[tuple[str, float | None]]) -> list[str]:
    return [await _place(stack, agent, number, talk) for number, talk in plan]


async def _report(stack: Stack, name: str) -> dict[str, Any]:
    r = await stack.client.get(f"/v1/reports/{name}", headers=stack.auth("sup"))
    body: dict[str, Any] = await r.json()
    assert r.status == 200, body
    totals: dict[str, Any] = body["totals"]
    return totals


async def test_reports_agree_with_the_cdr(stack: Stack, pbx: PbxSandbox) -> None:
    async with AmiTap(pbx.ami_host, pbx.ami_port, pbx.tools_ami_user, pbx.tools_ami_secret) as tap:
        # two agents at a time (at most four legs in the phones process); distinct numbers, same behaviours
        lanes = await asyncio.gather(
            _lane(stack, "ana", [("+8613800010001", 2.0), ("+8613800020002", None), ("+8613800030486", None)]),
            _lane(stack, "pete", [("+8613800040408", None), ("+8613800050503", None), ("+8613800060001", 1.2)]),
        )
        ids = [*lanes[0], *lanes[1], await _place(stack, "nick", "+8613800070001")]
        calls = {i: await stack.call(i) for i in ids}
        dialled = [i for i, c in calls.items() if c["customer_ringing_at"] is not None]
        # Cdr may come after the Hangup that ended the call: wait until every call has its records
        async with asyncio.timeout(20):
            while True:
                per_call = cdr_calls(tap.events(Event="Cdr"))
                if all(i in per_call for i in ids) and all(per_call[i].attempted for i in dialled):
                    break
                await asyncio.sleep(0.1)

    assert [calls[i]["end_reason"] for i in ids] == [
        "completed", "completed", "customer_busy", "customer_no_answer", "customer_unreachable", "completed",
        "agent_no_answer"]
    assert set(per_call) == set(ids)  # nothing but our calls, each seen by the CDR
    for i in ids:
        ours, cdr = calls[i], per_call[i]
        assert cdr.attempted == (ours["customer_ringing_at"] is not None), (i, cdr, ours)
        assert cdr.connected == (ours["answered_at"] is not None), (i, cdr, ours)
        if cdr.connected:
            assert ours["talk_seconds"] is not None and ours["talk_seconds"] > 0
            assert abs(ours["talk_seconds"] - cdr.talk_seconds) <= 1.0, (i, cdr, ours["talk_seconds"])
        else:
            assert ours["talk_seconds"] is None and cdr.talk_seconds == 0
    want = cdr_totals(per_call.values())
    assert (want.attempted, want.connected) == (6, 3)

    for step in ("raw", "rollup"):
        if step == "rollup":
            await refresh(stack.container.db)  # the service's refresher may have done part of it already
            async with stack.container.db.read() as s:
                assert (await s.execute(select(func.count()).select_from(dirty))).scalar_one() == 0
        cr = await _report(stack, "connect-rate")
        tt = await _report(stack, "talk-time")
        assert cr["attempts"] == len(ids)
        assert cr["attempts"] - cr["agent_not_answered"] == want.attempted
        assert cr["connected"] == tt["connected"] == want.connected
        assert abs(tt["talk_total"] - want.talk_seconds) <= want.connected  # within 1 s per call
