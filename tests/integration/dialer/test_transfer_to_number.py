"""A transfer to an outside number end to end: ana (1001, 600 Hz) talks to a debtor on +8613800000001 (the
simulated customer line, 1000 Hz) and blind-transfers the customer to another number of the case that answers on
the same simulated line (its last digits 0101 answer like 0001; it plays 1300 Hz here). Through the real service,
the real gate (DEMO rules) and the real Asterisk 22, on SQLite and PostgreSQL: the outside party sees the
client's presented number, the call keeps its id and gains an outside leg (no user, its number), the transfer
events arrive, and the one recording keeps the customer on its right channel throughout while the left goes
from ana to the outside party."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.dialer.test_transfer import (
    ANA_HZ,
    CUSTOMER_HZ,
    RATE,
    _at,
    _event_types,
    _legs,
    _recording,
    _samples,
    _tone,
    _transfer_state,
)
from tests.integration.stack import BACKENDS, Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
DEBTOR, OUTSIDE, PRESENTED = "+8613800000001", "+8613800000101", "+862161234567"
OUTSIDE_HZ = 1300


@pytest_asyncio.fixture(loop_scope="session", params=BACKENDS)
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async with service_stack(pbx, tmp_path, backend=request.param, presence={"wrap_up_s": 0}) as s:
        yield s


async def _case(stack: Stack, external_id: str, debtor: str, other: str) -> str:
    """A case of bank-p (which presents PRESENTED) for ana, with the debtor's mobile and another own number."""
    r = await stack.client.put("/v1/clients/bank-p/presented-numbers", headers=stack.auth("ada"),
                               json={"numbers": [PRESENTED]})
    assert r.status == 200, await r.json()
    r = await stack.client.put(f"/v1/clients/bank-p/cases/{external_id}", headers=stack.auth("casesys"), json={
        "debtor_name": "Li Si", "amount": "900.00", "currency": "CNY", "days_overdue": 60, "agent": "ana",
        "team": "e2e", "contacts": [{"number": debtor, "kind": "mobile"}, {"number": other, "kind": "work"}]})
    body = await r.json()
    assert r.status == 201, body
    return str(body["id"])


async def test_ana_blind_transfers_the_customer_to_an_outside_number_in_one_call_and_one_recording(
        stack: Stack, phones: PhonesProcess, tmp_path: Path) -> None:
    case_id = await _case(stack, "XFER-OUT-1", DEBTOR, OUTSIDE)

    mark = phones.mark()
    call = await stack.dial("ana", DEBTOR, case_id=case_id)
    await phones.wait_for("answered", phone="customer", since=mark, timeout=20)
    await stack.wait_state(call["id"], "answered")
    await asyncio.sleep(2.0)  # audio content for ana's half, not a synchronisation
    await phones.send({"cmd": "set_behaviour", "phone": "customer", "tone_hz": OUTSIDE_HZ})
    try:
        mark = phones.mark()
        r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                    json={"number": OUTSIDE, "mode": "blind"})
        transfer = await r.json()
        assert r.status == 202, transfer
        assert (transfer["target"], transfer["target_role"], transfer["from_agent"]) == (OUTSIDE, "outside", "ana")
        assert transfer["decision_id"]
        incoming = await phones.wait_for("incoming", phone="customer", number=OUTSIDE, since=mark, timeout=20)
        await phones.wait_for("answered", phone="customer", number=OUTSIDE, since=mark, timeout=20)
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "customer", "tone_hz": CUSTOMER_HZ})
    # the outside party sees the client's number and the call's id, as a customer of the call would
    assert (incoming["caller"], incoming["pai_number"]) == (PRESENTED, PRESENTED)
    assert incoming["headers"]["x-callguard-call-id"] == call["id"]
    await asyncio.sleep(2.0)  # audio content for the outside party's half
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("sup"))
    assert r.status == 202, await r.json()
    ended = await stack.wait_state(call["id"], "ended")
    assert (ended["id"], ended["agent"], ended["end_reason"]) == (call["id"], "ana", "completed")

    model = await _legs(stack, call["id"], done=2)
    assert [(leg["seq"], leg["role"], leg["user"], leg["number"]) for leg in model["legs"]] == [
        (1, "agent", "ana", None), (2, "outside", None, OUTSIDE)]
    ana, outside = model["legs"]
    assert ana["answered_at"] and outside["answered_at"] and _at(ana["ended_at"]) <= _at(outside["answered_at"])
    assert ana["talk_seconds"] >= 1.5 and outside["talk_seconds"] >= 1.5
    assert [(t["state"], t["target"], t["target_role"], t["failure"]) for t in model["transfers"]] == [
        ("completed", OUTSIDE, "outside", None)]
    types = await _event_types(stack, call["id"])
    assert types.index("call.transfer_requested") < types.index("call.transfer_completed") < types.index(
        "call.ended")
    assert "call.transfer_failed" not in types and "call.blocked" not in types

    rec = await _recording(stack, call["id"])
    assert (rec.state, rec.channels, rec.agent_id) == ("stored", 2, "ana")
    left, right = await _samples(stack, rec, tmp_path / "out.ogg")
    split = (_at(ana["ended_at"]) - _at(ended["agent_answered_at"])).total_seconds()
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=0, end=split) and not _tone(left, OUTSIDE_HZ, start=0, end=split)
    assert _tone(left, OUTSIDE_HZ, start=split + 0.5, end=total) and not _tone(left, ANA_HZ, start=split + 0.5,
                                                                                   end=total)
    # the customer, on the right, throughout; never the outside party there
    assert _tone(right, CUSTOMER_HZ, start=split - 1.5, end=split) and _tone(right, CUSTOMER_HZ, start=split,
                                                                           end=total)
    assert not _tone(right, OUTSIDE_HZ, start=0, end=total) and not _tone(right, ANA_HZ, start=0, end=total)


async def test_a_number_the_gate_blocks_never_reaches_the_pbx(stack: Stack, phones: PhonesProcess) -> None:
    mark = phones.mark()
    call = await stack.dial("ana", "+8613800093001")
    await phones.wait_for("answered", phone="customer", since=mark, timeout=20)
    await stack.wait_state(call["id"], "answered")
    mark = phones.mark()
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                json={"number": "+8613800093101"})  # not a number of the call's case
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "do-not-call", body
    assert body["error"]["details"]["decision_id"]
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("ana"))
    assert r.status == 202
    await stack.wait_state(call["id"], "ended")
    assert phones.find("incoming", since=mark, phone="customer", number="+8613800093101") is None
    legs = await (await stack.client.get(f"/v1/calls/{call['id']}/legs", headers=stack.auth("sup"))).json()
    assert legs["legs"] == [] and legs["transfers"] == []


async def test_ana_consults_an_outside_number_then_completes_the_transfer(stack: Stack, phones: PhonesProcess,
                                                                         tmp_path: Path) -> None:
    debtor, other = "+8613800094001", "+8613800094101"
    case_id = await _case(stack, "XFER-OUT-2", debtor, other)
    mark = phones.mark()
    call = await stack.dial("ana", debtor, case_id=case_id)
    await phones.wait_for("answered", phone="customer", number=debtor, since=mark, timeout=20)
    await stack.wait_state(call["id"], "answered")
    await phones.send({"cmd": "set_behaviour", "phone": "customer", "tone_hz": OUTSIDE_HZ})
    try:
        mark = phones.mark()
        r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                    json={"number": other, "mode": "attended"})
        body = await r.json()
        assert r.status == 202 and (body["mode"], body["target_role"]) == ("attended", "outside"), body
        incoming = await phones.wait_for("incoming", phone="customer", number=other, since=mark, timeout=20)
        await phones.wait_for("answered", phone="customer", number=other, since=mark, timeout=20)
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "customer", "tone_hz": CUSTOMER_HZ})
    assert incoming["caller"] == PRESENTED
    await _transfer_state(stack, call["id"], "consulting")
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer/complete", headers=stack.auth("ana"))
    done = await r.json()
    assert r.status == 202 and done["state"] == "completed", done
    await asyncio.sleep(2.0)  # audio content: the outside party with the customer
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("sup"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed"
    model = await _legs(stack, call["id"], done=2)
    assert [(leg["role"], leg["user"], leg["number"]) for leg in model["legs"]] == [
        ("agent", "ana", None), ("outside", None, other)]
    assert model["legs"][1]["talk_seconds"] >= 1.5
    steps = [x for x in await _event_types(stack, call["id"]) if x.startswith("call.transfer_")]
    assert steps == ["call.transfer_requested", "call.transfer_consulting", "call.transfer_completed"]
    rec = await _recording(stack, call["id"])
    assert (rec.state, rec.channels) == ("stored", 2)
    left, right = await _samples(stack, rec, tmp_path / "attended-out.ogg")
    total, joined = len(right) / RATE, (_at(model["transfers"][0]["completed_at"])
                                        - _at(ended["agent_answered_at"])).total_seconds()
    # the customer's channel throughout, never the outside party there; the outside party on the left once joined
    assert _tone(right, CUSTOMER_HZ, start=0, end=total) and not _tone(right, OUTSIDE_HZ, start=0, end=total)
    assert _tone(left, OUTSIDE_HZ, start=joined, end=total)


async def test_a_number_that_does_not_answer_rings_the_customer_back_to_ana(stack: Stack,
                                                                           phones: PhonesProcess) -> None:
    debtor, silent = "+8613800095001", "+8613800090408"  # 0408: the simulated line never answers
    case_id = await _case(stack, "XFER-OUT-3", debtor, silent)
    mark = phones.mark()
    call = await stack.dial("ana", debtor, case_id=case_id)
    await phones.wait_for("answered", phone="customer", number=debtor, since=mark, timeout=20)
    await stack.wait_state(call["id"], "answered")
    mark = phones.mark()
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                json={"number": silent})
    assert r.status == 202, await r.json()
    await phones.wait_for("incoming", phone="customer", number=silent, since=mark, timeout=20)
    await phones.wait_for("answered", phone="1001", since=mark, timeout=30)  # ana's phone rings again
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("sup"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed"
    model = await _legs(stack, call["id"], done=3)
    assert [(leg["role"], leg["user"], leg["number"], bool(leg["answered_at"])) for leg in model["legs"]] == [
        ("agent", "ana", None, True), ("outside", None, silent, False), ("back", "ana", None, True)]
    [t] = model["transfers"]
    assert (t["state"], t["failure"], t["dial_status"]) == ("failed", "target-not-answered", "NOANSWER")
    steps = [x for x in await _event_types(stack, call["id"]) if x.startswith("call.transfer_")]
    assert steps == ["call.transfer_requested", "call.transfer_failed"]
