"""The presented number end to end: an admin sets a client's numbers through the API, a case of that client
is dialled through the real service and the real Asterisk 22, and the simulated customer line reports the
caller number it received (From and P-Asserted-Identity)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
SHANGHAI, BEIJING = "+862161234567", "+861062345678"


@pytest_asyncio.fixture(loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path) -> AsyncIterator[Stack]:
    async with service_stack(pbx, tmp_path) as s:
        yield s


async def _case(stack: Stack, client: str, external_id: str, number: str) -> str:
    r = await stack.client.put(f"/v1/clients/{client}/cases/{external_id}", headers=stack.auth("casesys"), json={
        "debtor_name": "Li Si", "amount": "900.00", "currency": "CNY", "days_overdue": 60, "agent": "ana",
        "contacts": [{"number": number, "kind": "mobile"}]})
    body = await r.json()
    assert r.status == 201, body
    return str(body["id"])


async def _dial_case(stack: Stack, phones: PhonesProcess, case_id: str, number: str
                     ) -> tuple[dict[str, object], dict[str, object]]:
    """Dial the case as ana; hang up once the customer answered. Returns (customer's incoming, ended call)."""
    mark = phones.mark()
    call = await stack.dial("ana", number, case_id=case_id)
    incoming = await phones.wait_for("incoming", phone="customer", number=number, since=mark, timeout=20)
    assert incoming["headers"]["x-callguard-call-id"] == call["id"]
    await stack.wait_state(call["id"], "answered")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    return incoming, await stack.wait_state(call["id"], "ended")


async def test_a_case_of_a_client_presents_the_clients_primary_number(stack: Stack, phones: PhonesProcess) -> None:
    r = await stack.client.put("/v1/clients/bank-p/presented-numbers", headers=stack.auth("ada"),
                               json={"numbers": [SHANGHAI, BEIJING]})
    assert r.status == 200, await r.json()
    number = "+8613800060001"
    incoming, ended = await _dial_case(stack, phones, await _case(stack, "bank-p", "P-1", number), number)
    assert (incoming["caller"], incoming["from_number"], incoming["pai_number"]) == (SHANGHAI, SHANGHAI, SHANGHAI)
    assert ended["presented_number"] == SHANGHAI and ended["client_id"] == "bank-p"
    assert ended["end_reason"] == "completed"


async def test_a_case_of_a_client_without_numbers_presents_the_pbx_default(
        pbx: PbxSandbox, stack: Stack, phones: PhonesProcess) -> None:
    assert pbx.settings.default_cli == ""  # the sandbox's PBX default: withheld
    number = "+8613800070001"
    incoming, ended = await _dial_case(stack, phones, await _case(stack, "bank-none", "N-1", number), number)
    assert (incoming["caller"], incoming["pai_number"]) == ("anonymous", None)
    assert number not in str(incoming["remote"])  # never the customer's own number (the agent leg's caller id)
    assert ended["presented_number"] is None and ended["client_id"] == "bank-none"
