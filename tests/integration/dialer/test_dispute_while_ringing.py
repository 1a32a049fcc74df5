"""A dispute arriving from the case system while the agent's phone rings stops the customer leg:
the dial plan waits for the service's go-ahead, and the service re-checks the case's holds when the agent
answers (real Asterisk, real SIP phones, real service)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
NUMBER = "+8613800000001"


@pytest_asyncio.fixture(loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> AsyncIterator[Stack]:
    await phones.send({"cmd": "set_behaviour", "phone": "1005", "answer_delay": 2.5})
    try:
        async with service_stack(pbx, tmp_path) as s:
            yield s
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "answer_delay": 0.3})


async def _case(stack: Stack, external_id: str) -> str:
    r = await stack.client.put(f"/v1/clients/bank1/cases/{external_id}", headers=stack.auth("casesys"), json={
        "debtor_name": "Zhang San", "amount": "1200.50", "currency": "CNY", "days_overdue": 95, "agent": "pete",
        "contacts": [{"number": NUMBER, "kind": "mobile"}]})
    body = await r.json()
    assert r.status == 201, body
    return str(body["id"])


async def test_dispute_while_agent_phone_rings_stops_the_customer_leg(stack: Stack, phones: PhonesProcess) -> None:
    case_id = await _case(stack, "DISPUTE-1")
    mark = phones.mark()
    call = await stack.dial("pete", NUMBER, case_id=case_id)
    await stack.wait_state(call["id"], "agent_ringing")
    r = await stack.client.post(f"/v1/cases/{case_id}/holds", headers=stack.auth("casesys"),
                                json={"reason": "dispute"})
    assert r.status in (200, 201), await r.json()
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["agent_answered_at"] is not None  # the agent did answer...
    assert ended["customer_ringing_at"] is None  # ...but the customer was never dialled
    assert ended["end_reason"] == "cancelled"
    assert phones.find("incoming", phone="customer", since=mark) is None
    # and the next dial of the case is blocked by the gate
    r = await stack.client.post("/v1/calls", json={"agent": "pete", "number": NUMBER, "case_id": case_id},
                                headers=stack.auth("pete"))
    assert r.status == 409 and (await r.json())["error"]["code"] == "case-on-hold"


async def test_without_a_hold_the_customer_is_dialled_after_the_go_ahead(stack: Stack, phones: PhonesProcess) -> None:
    case_id = await _case(stack, "CLEAN-1")
    call = await stack.dial("pete", NUMBER, case_id=case_id)
    await stack.wait_state(call["id"], "answered")
    await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("pete"))
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed" and ended["case_id"] == case_id


async def test_no_side_door_a_held_number_without_case_id_and_a_number_of_no_case(stack: Stack) -> None:
    case_id = await _case(stack, "SIDE-DOOR-1")
    r = await stack.client.post(f"/v1/cases/{case_id}/holds", headers=stack.auth("casesys"),
                                json={"reason": "deceased"})
    assert r.status == 201, await r.json()
    r = await stack.client.post("/v1/calls", json={"agent": "pete", "number": NUMBER}, headers=stack.auth("pete"))
    body = await r.json()
    assert r.status == 409 and body["error"]["details"]["rule_ids"] == ["hold:deceased"], body
    stranger = "+8613800000404"  # on no case: a supervisor's manual dial only
    r = await stack.client.post("/v1/calls", json={"agent": "pete", "number": stranger}, headers=stack.auth("pete"))
    assert r.status == 403 and (await r.json())["error"]["code"] == "manual-dial-not-allowed"
    r = await stack.client.post("/v1/compliance/check", json={"agent": "pete", "number": stranger},
                                headers=stack.auth("sup"))
    assert r.status == 200 and (await r.json())["allowed"] is True
