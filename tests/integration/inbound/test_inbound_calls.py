"""Debtors calling back, through the real Asterisk 22, the real phones and the composed service.

The simulated customer line calls a presented number of ``e2e-bank`` from a case's number: the case's agent
(ana, 1001) rings and answers when available; with ana paused, another agent of the team (pete, 1005); with
nobody available, the caller hears the message and a callback is left for ana; an unknown number reaches an
available agent serving the bank. And with the service cut off from AMI, the dial plan plays the message by
itself and the service logs the attempt (and its callback) when it is back.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from core.models import DomainEventRow
from recordings.models import Recording
from recordings.tone import detect_tone
from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import Stack, service_stack
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
PRESENTED = "+862161230001"  # e2e-bank's presented number
OTHER_BANK = "+862161230002"  # bank1's
CUSTOMER_TONE, AGENT_TONE = 1000, 600
TEAM = ("ana", "nick", "rita", "pete")  # olga's phone (1004) never registers: offline


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def proxy(pbx: PbxSandbox) -> AsyncIterator[TcpProxy]:
    """The service reaches AMI through a proxy the service-down scenario cuts."""
    async with TcpProxy(pbx.ami_host, pbx.ami_port) as p:
        yield p


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pbx: PbxSandbox, phones: PhonesProcess, proxy: TcpProxy,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with service_stack(pbx, tmp_path_factory.mktemp("inbound"), ami_port=proxy.port,
                             presence={"wrap_up_s": 0}) as s:
        for client, number in (("e2e-bank", PRESENTED), ("bank1", OTHER_BANK)):
            r = await s.client.put(f"/v1/clients/{client}/presented-numbers", headers=s.auth("ada"),
                                   json={"numbers": [number]})
            assert r.status == 200, await r.json()
        await _case(s, "e2e-bank", "IN-1", "+8613900000101", "ana")
        await _case(s, "e2e-bank", "IN-2", "+8613900000102", "ana")
        await _case(s, "e2e-bank", "IN-3", "+8613900000103", "ana")
        await _case(s, "e2e-bank", "IN-4", "+8613900000104", "ana")
        # the same debtor number at another bank, assigned to pete: never matched through e2e-bank's number
        await _case(s, "bank1", "OTHER-1", "+8613900000101", "pete")
        yield s


async def _until_connected(s: Stack, connected: bool) -> None:
    """Poll /readyz until the PBX connection is (or is not) up (a wait, not a timing assertion)."""
    async with asyncio.timeout(15):
        while True:
            ready = await (await s.client.get("/readyz")).json()
            if ready["checks"]["pbx"]["local"]["connected"] is connected:
                return
            await asyncio.sleep(0.05)


async def _case(s: Stack, client: str, external_id: str, number: str, agent: str) -> str:
    r = await s.client.put(f"/v1/clients/{client}/cases/{external_id}", headers=s.auth("casesys"), json={
        "debtor_name": "Wang Wu", "amount": "500.00", "currency": "CNY", "agent": agent, "team": "e2e",
        "contacts": [{"number": number, "kind": "mobile"}]})
    body = await r.json()
    assert r.status == 201, body
    s.cases[(number, client)] = str(body["id"])
    return str(body["id"])


async def _set(s: Stack, agents: tuple[str, ...], state: str) -> None:
    for agent in agents:
        body: dict[str, Any] = {"state": state, **({"pause_code": "break"} if state == "paused" else {})}
        r = await s.client.put(f"/v1/agents/{agent}/state", headers=s.auth("sup"), json=body)
        assert r.status == 200, await r.json()


async def _inbound_call(s: Stack, **match: str) -> dict[str, Any]:
    """The inbound call matching ``match`` (waits until the service has logged it)."""
    async with asyncio.timeout(20):
        while True:
            r = await s.client.get("/v1/calls", params={"direction": "inbound"}, headers=s.auth("sup"))
            items = (await r.json())["items"]
            found = [c for c in items if all(c.get(k) == v for k, v in match.items())]
            if found:
                return dict(found[0])
            await asyncio.sleep(0.1)


async def _events(s: Stack, call_id: str) -> list[DomainEventRow]:
    async with s.container.db.read() as session:
        return list((await session.scalars(select(DomainEventRow).where(DomainEventRow.call_id == call_id)
                                           .order_by(DomainEventRow.id))).all())


async def _stored_recording(s: Stack, call_id: str, tmp: Path) -> Path:
    feature = s.container.recordings_feature()
    async with asyncio.timeout(30):
        while True:
            async with s.container.db.read() as session:
                rec = await session.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is not None and rec.state == "stored":
                break
            await asyncio.sleep(0.2)
    assert rec.key is not None and rec.channels == 2
    async with await feature.store.open_range(rec.key, version_id=rec.version_id) as rng:
        data = b"".join([chunk async for chunk in rng])
    assert hashlib.sha256(data).hexdigest() == rec.sha256
    path = tmp / f"{call_id}.ogg"
    await asyncio.to_thread(path.write_bytes, data)
    return path


async def _talk(s: Stack, phones: PhonesProcess, caller: str, agent_phone: str, **match: str
                ) -> dict[str, Any]:
    """The customer line calls the presented number from ``caller``; ``agent_phone`` rings and answers; both
    tones flow; the caller hangs up. The ended call."""
    mark = phones.mark()
    calling = await phones.dial("customer", PRESENTED, caller=caller, tone_hz=CUSTOMER_TONE)
    incoming = await phones.wait_for("incoming", phone=agent_phone, since=mark, timeout=20)
    await phones.wait_for("answered", phone=agent_phone, call=incoming["call"], since=mark, timeout=20)
    await phones.wait_for("answered", phone="customer", call=calling["call"], since=mark, timeout=20)
    call = await _inbound_call(s, **match)
    await s.wait_state(call["id"], "answered")
    await asyncio.sleep(1.5)  # let both tones flow into the recording (content, not a timing assertion)
    await phones.send({"cmd": "hangup", "phone": "customer", "call": calling["call"]})
    await phones.wait_for("ended", phone=agent_phone, call=incoming["call"], since=mark, timeout=20)
    return await s.wait_state(call["id"], "ended")


async def test_a_debtor_calling_back_reaches_the_assigned_agent_recorded_on_both_channels(
        stack: Stack, phones: PhonesProcess, tmp_path: Path) -> None:
    # walls: the same number is a debtor of bank1 (pete's case), but e2e-bank's presented number was dialled
    case_id = stack.cases[("+8613900000101", "e2e-bank")]
    ended = await _talk(stack, phones, "+8613900000101", "1001", case_id=case_id)
    assert (ended["direction"], ended["agent"], ended["client_id"], ended["end_reason"]) == (
        "inbound", "ana", "e2e-bank", "completed")
    assert (ended["number"], ended["presented_number"], ended["requested_by"]) == (
        "+8613900000101", PRESENTED, "inbound")
    assert ended["talk_seconds"] and ended["talk_seconds"] > 0 and ended["agent_answered_at"]
    events = await _events(stack, ended["id"])
    types = [e.type for e in events]
    assert types[:2] == ["call.inbound_received", "call.inbound_routed"]
    assert {"call.agent_ringing", "call.answered", "call.ended"} <= set(types)
    routed = events[1].payload
    assert (routed["route"], routed["reason"], routed["routed_agent_id"]) == ("agent", "assigned", "ana")
    # delivered within e2e-bank's walls (agent.state_changed is the agent's, of its first client)
    assert {e.client_id for e in events if e.type.startswith("call.")} == {"e2e-bank"}
    path = await _stored_recording(stack, ended["id"], tmp_path)
    left_agent, right_caller = detect_tone(path, AGENT_TONE, 0), detect_tone(path, CUSTOMER_TONE, 1)
    assert left_agent.present, left_agent
    assert right_caller.present, right_caller
    r = await stack.client.get(f"/v1/cases/{case_id}/contacts", headers=stack.auth("sup"))
    contacts = (await r.json())["items"]
    assert [(c["call_id"], c["direction"], c["connected"]) for c in contacts] == [(ended["id"], "inbound", True)]


async def test_the_assigned_agent_paused_a_team_agent_takes_the_call(stack: Stack, phones: PhonesProcess) -> None:
    await _set(stack, ("ana", "nick", "rita"), "paused")
    try:
        case_id = stack.cases[("+8613900000102", "e2e-bank")]
        ended = await _talk(stack, phones, "+8613900000102", "1005", case_id=case_id)
    finally:
        await _set(stack, ("ana", "nick", "rita"), "available")
    assert (ended["direction"], ended["agent"], ended["case_id"], ended["end_reason"]) == (
        "inbound", "pete", case_id, "completed")
    routed = next(e for e in await _events(stack, ended["id"]) if e.type == "call.inbound_routed").payload
    assert (routed["reason"], routed["routed_agent_id"], routed["callback_agent_id"]) == ("team", "pete", "ana")


async def test_nobody_available_the_caller_hears_the_message_and_ana_gets_a_callback(
        stack: Stack, phones: PhonesProcess) -> None:
    await _set(stack, TEAM, "paused")
    try:
        mark = phones.mark()
        calling = await phones.dial("customer", PRESENTED, caller="+8613900000103", tone_hz=CUSTOMER_TONE)
        await phones.wait_for("answered", phone="customer", call=calling["call"], since=mark, timeout=20)
        await phones.wait_for("ended", phone="customer", call=calling["call"], since=mark, timeout=20)
        assert phones.find("incoming", since=mark) is None  # nobody's phone rang
        case_id = stack.cases[("+8613900000103", "e2e-bank")]
        call = await _inbound_call(stack, case_id=case_id)
        ended = await stack.wait_state(call["id"], "ended")
    finally:
        await _set(stack, TEAM, "available")
    # the message answered the caller, but nobody talked to it
    assert (ended["end_reason"], ended["answered_at"], ended["talk_seconds"]) == ("agent_unavailable", None, None)
    r = await stack.client.get("/v1/callbacks", params={"view": "client"}, headers=stack.auth("sup"))
    left = [cb for cb in (await r.json())["items"] if cb["source_call_id"] == call["id"]]
    assert [(cb["agent"], cb["case_id"], cb["origin"], cb["state"]) for cb in left] == [
        ("ana", case_id, "inbound", "scheduled")]
    types = [e.type for e in await _events(stack, call["id"])]
    assert "call.answered" not in types and types[-1] == "call.ended"
    async with stack.container.db.read() as session:
        scheduled = (await session.scalars(select(DomainEventRow).where(
            DomainEventRow.type == "callback.scheduled", DomainEventRow.case_id == case_id))).all()
    assert [e.payload["source_call_id"] for e in scheduled] == [call["id"]]


async def test_an_unknown_caller_reaches_an_agent_of_the_bank_and_is_logged_without_a_case(
        stack: Stack, phones: PhonesProcess) -> None:
    await _set(stack, ("ana", "nick", "rita"), "paused")
    try:
        ended = await _talk(stack, phones, "+8613900000199", "1005", number="+8613900000199")
    finally:
        await _set(stack, ("ana", "nick", "rita"), "available")
    assert (ended["direction"], ended["case_id"], ended["client_id"], ended["agent"], ended["end_reason"]) == (
        "inbound", None, "e2e-bank", "pete", "completed")
    events = {e.type: e.payload for e in await _events(stack, ended["id"])}
    assert events["call.inbound_received"]["matched_case"] is False
    assert (events["call.inbound_routed"]["reason"], events["call.inbound_routed"]["callback_team"]) == (
        "client", "e2e")


async def test_while_the_service_is_down_the_caller_hears_the_message_and_is_logged_when_it_returns(
        stack: Stack, phones: PhonesProcess, proxy: TcpProxy, ami: AmiTap) -> None:
    await proxy.cut()
    await _until_connected(stack, False)
    try:
        mark, since = phones.mark(), len(ami.messages)
        calling = await phones.dial("customer", PRESENTED, caller="+8613900000104", tone_hz=CUSTOMER_TONE)
        announced = await ami.wait_event("UserEvent", since=since, UserEvent="CallguardInbound", To=PRESENTED)
        assert announced["From"] == "+8613900000104"
        ended = await phones.wait_for("ended", phone="customer", call=calling["call"], since=mark, timeout=30)
        assert ended["answered"] is True  # the dial plan's own message answered the caller
        assert phones.find("incoming", since=mark) is None  # no agent rang
    finally:
        proxy.resume()
    await _until_connected(stack, True)
    case_id = stack.cases[("+8613900000104", "e2e-bank")]
    call = await _inbound_call(stack, case_id=case_id)  # logged by the recovery after the reconnect
    assert (call["state"], call["end_reason"], call["answered_at"], call["number"], call["presented_number"]) == (
        "ended", "agent_unavailable", None, "+8613900000104", PRESENTED)
    events = await _events(stack, call["id"])
    assert [e.type for e in events][:2] == ["call.inbound_received", "call.inbound_routed"]
    assert (events[1].payload["route"], events[1].payload["reason"]) == ("message", "unrouted")
    r = await stack.client.get("/v1/callbacks", params={"view": "client"}, headers=stack.auth("sup"))
    left = [cb for cb in (await r.json())["items"] if cb["source_call_id"] == call["id"]]
    assert [(cb["agent"], cb["origin"], cb["case_id"]) for cb in left] == [("ana", "inbound", case_id)]
    # logged once, however often the service connects again
    assert await stack.container.inbound.recover("local") == 0
