"""Transfers end to end: a real call through the service and Asterisk 22 is handed by ana (1001, 600 Hz) to
pete (1005, 900 Hz here), or to nick (1002, never answers: the customer rings back to ana). Each scenario,
on SQLite and PostgreSQL, checks the call model (one call, its legs), the events, the webhooks and the
recording (one stereo file, the customer's 1000 Hz on the right throughout, the staff side on the left: each
part its own tone)."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from core.models import DomainEventRow
from recordings.models import Recording
from recordings.tone import analyse_tone, decode_pcm
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import BACKENDS, Stack, service_stack
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
ANA_HZ, PETE_HZ, CUSTOMER_HZ = 600, 900, 1000
RATE = 8000


@pytest_asyncio.fixture(loop_scope="session", params=BACKENDS)
async def stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    await phones.send({"cmd": "set_behaviour", "phone": "1005", "tone_hz": PETE_HZ})
    try:
        # no wrap-up: each scenario's target is available again for the next (presence follows the legs)
        async with service_stack(pbx, tmp_path, backend=request.param, hooks={"allow_private_targets": True},
                                 presence={"wrap_up_s": 0}) as s:
            yield s
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "tone_hz": ANA_HZ})


@pytest_asyncio.fixture(loop_scope="session")
async def receiver(stack: Stack) -> AsyncIterator[Receiver]:
    async with Receiver(secret="") as rx:
        r = await stack.client.post("/v1/hooks/subscriptions", headers=stack.auth("ada"), json={
            "url": rx.url, "event_types": ["call.*"], "description": "transfers"})
        body = await r.json()
        assert r.status == 201, body
        rx.secret = body["secret"]
        yield rx


async def _answered_call(stack: Stack, phones: PhonesProcess, number: str) -> dict[str, Any]:
    mark = phones.mark()
    call = await stack.dial("ana", number)
    await phones.wait_for("answered", phone="customer", since=mark, timeout=20)
    await stack.wait_state(call["id"], "answered")
    await asyncio.sleep(2.0)  # audio content for the first agent's half, not a synchronisation
    return call


async def _presence(stack: Stack, agent: str) -> str:
    r = await stack.client.get(f"/v1/agents/{agent}/state", headers=stack.auth("sup"))
    body = await r.json()
    assert r.status == 200, body
    return str(body["state"])


async def _legs(stack: Stack, call_id: str, *, done: int, within: float = 30.0) -> dict[str, Any]:
    """Poll the call's legs until ``done`` of them have ended (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            r = await stack.client.get(f"/v1/calls/{call_id}/legs", headers=stack.auth("sup"))
            body: dict[str, Any] = await r.json()
            assert r.status == 200, body
            if sum(1 for leg in body["legs"] if leg["ended_at"]) >= done:
                return body
            await asyncio.sleep(0.1)


async def _recording(stack: Stack, call_id: str, within: float = 45.0) -> Recording:
    async with asyncio.timeout(within):
        while True:
            async with stack.container.db.read() as s:
                rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is not None and rec.state in ("stored", "failed", "empty"):
                return rec
            await asyncio.sleep(0.2)


async def _event_types(stack: Stack, call_id: str) -> list[str]:
    async with stack.container.db.read() as s:
        return list((await s.scalars(select(DomainEventRow.type).where(DomainEventRow.call_id == call_id)
                                     .order_by(DomainEventRow.id))).all())


async def _samples(stack: Stack, rec: Recording, dest: Path) -> tuple[list[int], list[int]]:
    """The recording through the API (as the QA player gets it), decoded: (left, right) samples."""
    r = await stack.client.get(f"/v1/recordings/{rec.id}/audio", headers=stack.auth("ada"))
    assert r.status == 200
    await asyncio.to_thread(dest.write_bytes, await r.read())
    samples, channels = await asyncio.to_thread(decode_pcm, dest, sample_rate=RATE)
    assert channels == 2
    return list(samples[0::2]), list(samples[1::2])


def _tone(samples: list[int], hz: int, *, start: float, end: float) -> bool:
    part = array("h", samples[int(start * RATE):int(end * RATE)])
    return analyse_tone(part, RATE, hz).present


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _webhook_types(rx: Receiver, call_id: str, wanted: set[str], within: float = 30.0) -> list[str]:
    async with asyncio.timeout(within):
        while True:
            got = [q.json["type"] for q in rx.requests if q.verified and isinstance(q.json, dict)
                   and (q.json.get("data") or {}).get("call_id") == call_id]
            if wanted <= set(got):
                return got
            await asyncio.sleep(0.1)


async def test_blind_transfer_hands_the_customer_to_pete_in_one_call_with_one_recording(
        stack: Stack, phones: PhonesProcess, receiver: Receiver, tmp_path: Path) -> None:
    call = await _answered_call(stack, phones, "+8613800091001")
    mark = phones.mark()
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                json={"target": "pete", "mode": "blind"})
    transfer = await r.json()
    assert r.status == 202, transfer
    assert (transfer["state"], transfer["from_agent"], transfer["target"]) == ("requested", "ana", "pete")
    await phones.wait_for("answered", phone="1005", since=mark, timeout=20)
    await asyncio.sleep(2.0)  # audio content for pete's half
    # presence follows the legs: pete is on the call (no dial or transfer for him), ana has left it
    assert (await _presence(stack, "pete"), await _presence(stack, "ana")) == ("on_call", "available")
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("sup"))
    assert r.status == 202, await r.json()
    ended = await stack.wait_state(call["id"], "ended")
    assert (ended["id"], ended["agent"], ended["end_reason"]) == (call["id"], "ana", "completed")

    model = await _legs(stack, call["id"], done=2)
    legs = [(leg["seq"], leg["role"], leg["user"]) for leg in model["legs"]]
    assert legs == [(1, "agent", "ana"), (2, "target", "pete")]
    ana, pete = model["legs"]
    assert ana["answered_at"] and pete["answered_at"] and _at(ana["ended_at"]) <= _at(pete["answered_at"])
    assert ana["talk_seconds"] >= 1.5 and pete["talk_seconds"] >= 1.5
    assert [(t["state"], t["target"], t["failure"]) for t in model["transfers"]] == [("completed", "pete", None)]

    types = await _event_types(stack, call["id"])
    assert types.count("call.transfer_requested") == 1 and types.count("call.transfer_completed") == 1
    assert "call.transfer_failed" not in types
    assert types.index("call.transfer_requested") < types.index("call.transfer_completed") < types.index(
        "call.ended")
    hooks = await _webhook_types(receiver, call["id"], {"call.transfer_requested", "call.transfer_completed",
                                                        "call.ended"})
    assert hooks.index("call.transfer_requested") < hooks.index("call.transfer_completed")

    rec = await _recording(stack, call["id"])
    assert (rec.state, rec.channels, rec.agent_id) == ("stored", 2, "ana")
    left, right = await _samples(stack, rec, tmp_path / "blind.ogg")
    split = (_at(ana["ended_at"]) - _at(ended["agent_answered_at"])).total_seconds()
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=0, end=split) and not _tone(left, PETE_HZ, start=0, end=split)
    assert _tone(left, PETE_HZ, start=split, end=total) and not _tone(left, ANA_HZ, start=split + 0.5, end=total)
    assert _tone(right, CUSTOMER_HZ, start=split - 1.5, end=split) and _tone(right, CUSTOMER_HZ, start=split,
                                                                           end=total)
    assert not _tone(right, ANA_HZ, start=0, end=total) and not _tone(right, PETE_HZ, start=0, end=total)


async def test_blind_transfer_to_a_target_who_does_not_answer_brings_the_customer_back_to_ana(
        stack: Stack, phones: PhonesProcess, receiver: Receiver, tmp_path: Path) -> None:
    call = await _answered_call(stack, phones, "+8613800092001")
    mark = phones.mark()
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("sup"),
                                json={"target": "nick"})
    assert r.status == 202, await r.json()
    await phones.wait_for("incoming", phone="1002", since=mark, timeout=20)
    back = await phones.wait_for("answered", phone="1001", since=mark, timeout=30)  # ana's phone rings again
    assert back
    await asyncio.sleep(2.0)  # audio content for ana's second half
    r = await stack.client.post(f"/v1/calls/{call['id']}/hangup", headers=stack.auth("sup"))
    assert r.status == 202
    ended = await stack.wait_state(call["id"], "ended")
    assert ended["end_reason"] == "completed"

    model = await _legs(stack, call["id"], done=3)
    assert [(leg["role"], leg["user"], bool(leg["answered_at"])) for leg in model["legs"]] == [
        ("agent", "ana", True), ("target", "nick", False), ("back", "ana", True)]
    assert model["legs"][1]["talk_seconds"] is None and model["legs"][2]["talk_seconds"] >= 1.5
    [transfer] = model["transfers"]
    assert (transfer["state"], transfer["failure"], transfer["dial_status"]) == (
        "failed", "target-not-answered", "NOANSWER")
    types = await _event_types(stack, call["id"])
    assert "call.transfer_failed" in types and "call.transfer_completed" not in types
    await _webhook_types(receiver, call["id"], {"call.transfer_requested", "call.transfer_failed"})

    rec = await _recording(stack, call["id"])
    assert rec.state == "stored" and rec.channels == 2
    left, right = await _samples(stack, rec, tmp_path / "back.ogg")
    split = (_at(model["legs"][0]["ended_at"]) - _at(ended["agent_answered_at"])).total_seconds()
    back_from = (_at(model["legs"][2]["answered_at"]) - _at(ended["agent_answered_at"])).total_seconds()
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=0, end=split) and _tone(left, ANA_HZ, start=back_from, end=total)
    assert _tone(right, CUSTOMER_HZ, start=back_from, end=total)


async def _transfer_state(stack: Stack, call_id: str, *states: str, within: float = 30.0) -> dict[str, Any]:
    """Poll the call's last transfer until it reaches one of ``states`` (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            r = await stack.client.get(f"/v1/calls/{call_id}/legs", headers=stack.auth("sup"))
            body: dict[str, Any] = await r.json()
            if body["transfers"] and body["transfers"][-1]["state"] in states:
                return body
            await asyncio.sleep(0.1)


async def _attended(stack: Stack, phones: PhonesProcess, number: str, target: str) -> tuple[dict[str, Any], int]:
    call = await _answered_call(stack, phones, number)
    mark = phones.mark()
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer", headers=stack.auth("ana"),
                                json={"target": target, "mode": "attended"})
    body = await r.json()
    assert r.status == 202 and (body["mode"], body["state"]) == ("attended", "requested"), body
    return call, mark


async def _end(stack: Stack, call_id: str) -> dict[str, Any]:
    r = await stack.client.post(f"/v1/calls/{call_id}/hangup", headers=stack.auth("sup"))
    assert r.status == 202
    return await stack.wait_state(call_id, "ended")


def _offset(at: str, call: dict[str, Any]) -> float:
    return (_at(at) - _at(call["agent_answered_at"])).total_seconds()


async def test_attended_transfer_holds_the_customer_while_ana_consults_pete_then_completes(
        stack: Stack, phones: PhonesProcess, receiver: Receiver, tmp_path: Path) -> None:
    call, mark = await _attended(stack, phones, "+8613800093001", "pete")
    await phones.wait_for("answered", phone="1005", since=mark, timeout=20)
    model = await _transfer_state(stack, call["id"], "consulting")
    assert model["transfers"][0]["consulting_at"]
    await asyncio.sleep(2.0)  # audio content: the customer on hold while ana and pete talk
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer/complete", headers=stack.auth("ana"))
    done = await r.json()
    assert r.status == 202 and done["state"] == "completed", done
    await asyncio.sleep(2.0)  # audio content: pete with the customer
    ended = await _end(stack, call["id"])
    assert ended["end_reason"] == "completed"

    model = await _legs(stack, call["id"], done=2)
    assert [(leg["role"], leg["user"]) for leg in model["legs"]] == [("agent", "ana"), ("target", "pete")]
    [t] = model["transfers"]
    assert (t["state"], t["mode"]) == ("completed", "attended")
    pete = model["legs"][1]
    assert pete["talk_seconds"] >= 1.5 and pete["talk_seconds"] < (_at(pete["ended_at"]) - _at(
        pete["answered_at"])).total_seconds()  # the consultation is not talk with the customer
    types = await _event_types(stack, call["id"])
    steps = [x for x in types if x.startswith("call.transfer_")]
    assert steps == ["call.transfer_requested", "call.transfer_consulting", "call.transfer_completed"]
    hooks = await _webhook_types(receiver, call["id"], set(steps))
    assert [x for x in hooks if x.startswith("call.transfer_")] == steps

    rec = await _recording(stack, call["id"])
    assert (rec.state, rec.channels) == ("stored", 2)
    left, right = await _samples(stack, rec, tmp_path / "attended.ogg")
    hold_from, joined = _offset(t["requested_at"], ended), _offset(t["completed_at"], ended)
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=0, end=hold_from)
    assert not _tone(left, ANA_HZ, start=hold_from + 0.5, end=total)  # the consultation is not recorded
    assert not _tone(left, PETE_HZ, start=0, end=joined - 0.5) and _tone(left, PETE_HZ, start=joined, end=total)
    hold = array("h", left[int((hold_from + 0.3) * RATE):int((joined - 0.3) * RATE)])
    assert analyse_tone(hold, RATE, 440, min_seconds=0.2).present  # the hold melody the customer heard
    assert _tone(right, CUSTOMER_HZ, start=0, end=total) and not _tone(right, PETE_HZ, start=0, end=total)


async def test_attended_transfer_cancelled_gives_the_customer_back_to_ana(
        stack: Stack, phones: PhonesProcess, receiver: Receiver, tmp_path: Path) -> None:
    call, mark = await _attended(stack, phones, "+8613800094001", "pete")
    await phones.wait_for("answered", phone="1005", since=mark, timeout=20)
    await _transfer_state(stack, call["id"], "consulting")
    r = await stack.client.post(f"/v1/calls/{call['id']}/transfer/cancel", headers=stack.auth("ana"))
    body = await r.json()
    assert r.status == 202 and body["state"] == "cancelled", body
    await phones.wait_for("ended", phone="1005", since=mark, timeout=20)
    await asyncio.sleep(2.0)  # audio content: ana with the customer again
    ended = await _end(stack, call["id"])
    model = await _legs(stack, call["id"], done=2)
    [t] = model["transfers"]
    assert t["state"] == "cancelled" and model["legs"][1]["talk_seconds"] is None
    steps = [x for x in await _event_types(stack, call["id"]) if x.startswith("call.transfer_")]
    assert steps == ["call.transfer_requested", "call.transfer_consulting", "call.transfer_cancelled"]
    await _webhook_types(receiver, call["id"], set(steps))
    rec = await _recording(stack, call["id"])
    left, right = await _samples(stack, rec, tmp_path / "cancelled.ogg")
    back = _offset(t["cancelled_at"], ended) + 0.5
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=back, end=total) and not _tone(left, PETE_HZ, start=0, end=total)
    assert _tone(right, CUSTOMER_HZ, start=back, end=total)


async def test_attended_transfer_to_a_target_who_does_not_answer_gives_the_customer_back_to_ana(
        stack: Stack, phones: PhonesProcess, receiver: Receiver, tmp_path: Path) -> None:
    call, mark = await _attended(stack, phones, "+8613800095001", "nick")
    await phones.wait_for("incoming", phone="1002", since=mark, timeout=20)
    model = await _transfer_state(stack, call["id"], "failed")
    assert (model["transfers"][0]["failure"], model["transfers"][0]["dial_status"]) == (
        "target-not-answered", "NOANSWER")
    await asyncio.sleep(2.0)  # audio content: ana with the customer again
    ended = await _end(stack, call["id"])
    model = await _legs(stack, call["id"], done=2)
    assert [(leg["role"], leg["user"], bool(leg["answered_at"])) for leg in model["legs"]] == [
        ("agent", "ana", True), ("target", "nick", False)]
    steps = [x for x in await _event_types(stack, call["id"]) if x.startswith("call.transfer_")]
    assert steps == ["call.transfer_requested", "call.transfer_failed"]
    await _webhook_types(receiver, call["id"], set(steps))
    rec = await _recording(stack, call["id"])
    left, right = await _samples(stack, rec, tmp_path / "unanswered.ogg")
    back = _offset(model["transfers"][0]["failed_at"], ended) + 0.5
    total = len(left) / RATE
    assert _tone(left, ANA_HZ, start=back, end=total) and _tone(right, CUSTOMER_HZ, start=back, end=total)
