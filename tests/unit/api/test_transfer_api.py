"""The transfer API: roles, walls, validation, the call's state, presence, what reaches the PBX, the legs, the
events, and the PBX's leg facts moving the transfer (the real PBX: tests/integration/dialer/test_transfer.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from auth.models import Role
from auth.service import create_user, issue_token
from core.models import DomainEventRow
from dialer.translate import FactUpdate, LegUpdate
from tests.support.doubles import AllowAllGate
from tests.unit.api.conftest import Api
from tests.unit.api.test_calls_api import assert_error

T = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def _people(api: Api) -> None:
    """Targets around alice's call (bank1, team t1): bob (t1), vic (t1's supervisor, with a phone), carl (team
    t2), olga (bank2), mo (a manager with a phone), pia (t1, a SIP user the dial plan would not ring)."""
    async with api.container.db.begin() as s:
        for uid, role, sip, team, clients in [
                ("vic", Role.SUPERVISOR, "1010", "t1", ("bank1",)), ("carl", Role.AGENT, "1011", "t2", ("bank1",)),
                ("olga", Role.AGENT, "1012", "t1", ("bank2",)), ("mo", Role.MANAGER, "1013", None, ("bank1",)),
                ("pia", Role.AGENT, "pia_1", "t1", ("bank1",))]:
            await create_user(s, user_id=uid, role=role, sip_user=sip, team=team, clients=clients)
            api.tokens[uid] = await issue_token(s, user_id=uid)


async def _answered_call(api: Api) -> str:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001"},
                              headers=api.auth("alice"))
    assert r.status == 202
    call_id: str = (await r.json())["id"]
    await api.container.calls.apply(FactUpdate(call_id, "test", {
        "originated_at": T, "agent_ringing_at": T, "agent_answered_at": T, "agent_channel": "PJSIP/1001-00000001",
        "customer_ringing_at": T, "customer_channel": "PJSIP/customers-00000002", "answered_at": T}))
    api.pbx.actions.clear()
    return call_id


async def _transfer(api: Api, call_id: str, user: str, body: Any) -> tuple[int, Any]:
    r = await api.client.post(f"/v1/calls/{call_id}/transfer", json=body, headers=api.auth(user))
    return r.status, await r.json()


async def _presence(api: Api, agent: str) -> str:
    r = await api.client.get(f"/v1/agents/{agent}/state", headers=api.auth("sam"))
    body = await r.json()
    assert r.status == 200, body
    return str(body["state"])


async def _types(api: Api, call_id: str) -> list[str]:
    async with api.container.db.read() as s:
        return list((await s.scalars(select(DomainEventRow.type).where(
            DomainEventRow.call_id == call_id, DomainEventRow.type.like("call.%")).order_by(DomainEventRow.id))).all())


async def test_an_agent_transfers_its_call_to_a_colleague_and_the_pbx_gets_sip_users_only(api: Api) -> None:
    call_id = await _answered_call(api)
    status, body = await _transfer(api, call_id, "alice", {"target": "bob", "mode": "blind"})
    assert status == 202, body
    assert (body["call_id"], body["state"], body["from_agent"], body["target"], body["seq"]) == (
        call_id, "requested", "alice", "bob", 1)
    [(action, sent)] = api.pbx.actions
    assert action == "blind_transfer"
    assert (sent["agent_channel"], sent["customer_channel"], sent["target"], sent["back"], sent["seq"]) == (
        "PJSIP/1001-00000001", "PJSIP/customers-00000002", "1002", "1001", 1)
    assert sent["transfer_id"] == body["id"]
    r = await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))
    legs = await r.json()
    assert [(leg["seq"], leg["role"], leg["user"]) for leg in legs["legs"]] == [(1, "agent", "alice"),
                                                                               (2, "target", "bob")]
    assert [t["state"] for t in legs["transfers"]] == ["requested"]
    assert (await _types(api, call_id))[-1] == "call.transfer_requested"

    # a second transfer while this one is under way is refused
    status, again = await _transfer(api, call_id, "sam", {"target": "vic"})
    assert status == 409
    assert_error(again, "call-not-transferable")

    # the PBX's facts: bob answers (the transfer completes), alice's leg ends, bob's ends with the call
    target_leg = sent["target_leg"]
    now = api.container.clock.now()
    await api.container.transfers.apply_leg(LegUpdate(call_id, None, body["id"], "Hangup",
                                                      {"ended_at": now, "cause": 16}))
    await api.container.transfers.apply_leg(LegUpdate(call_id, target_leg, None, "Newstate", {
        "channel": "PJSIP/1002-00000003", "answered_at": now + timedelta(seconds=1)}))
    assert await _presence(api, "bob") == "on_call"  # bob is on the call: no dial, campaign or transfer for him
    assert await _presence(api, "alice") == "wrap_up"  # alice left it: her wrap-up started
    await api.container.transfers.apply_leg(LegUpdate(call_id, target_leg, None, "Hangup", {
        "ended_at": now + timedelta(seconds=61), "cause": 16}))
    assert await _presence(api, "bob") == "wrap_up"
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("sam"))).json()
    alice_talk = round((now - T).total_seconds(), 3)  # the call was answered at T
    assert [(leg["user"], leg["talk_seconds"]) for leg in legs["legs"]] == [("alice", alice_talk), ("bob", 60.0)]
    assert [(t["state"], t["failure"]) for t in legs["transfers"]] == [("completed", None)]
    assert (await _types(api, call_id))[-2:] == ["call.transfer_requested", "call.transfer_completed"]


async def test_targets_outside_the_calls_walls_are_answered_like_unknown_ones(api: Api) -> None:
    await _people(api)
    call_id = await _answered_call(api)
    for target in ("carl", "olga", "mo", "pia", "nobody", "quinn"):
        status, body = await _transfer(api, call_id, "sam", {"target": target})
        assert status == 422, (target, body)
        assert_error(body, "no-such-transfer-target")
        assert body["error"]["details"] == {"target": target}
    status, body = await _transfer(api, call_id, "alice", {"target": "alice"})
    assert status == 409 and body["error"]["code"] == "call-not-transferable"
    assert not api.pbx.actions
    status, body = await _transfer(api, call_id, "sam", {"target": "vic"})  # the team's supervisor
    assert status == 202 and body["target_role"] == "supervisor"
    assert api.pbx.actions[0][1]["target"] == "1010"


async def test_roles_and_the_callers_own_walls(api: Api) -> None:
    call_id = await _answered_call(api)
    for user, code in (("quinn", 403), ("mia", 403), ("bob", 404)):
        status, body = await _transfer(api, call_id, user, {"target": "bob"})
        assert status == code, (user, body)
    r = await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("bob"))
    assert r.status == 404
    r = await api.client.post("/v1/calls/5d0c4f7e-0000-4000-8000-000000000000/transfer", json={"target": "bob"},
                              headers=api.auth("sam"))
    assert r.status == 404 and (await r.json())["error"]["code"] == "no-such-call"
    assert not api.pbx.actions


async def test_bad_bodies_change_nothing(api: Api) -> None:
    call_id = await _answered_call(api)
    for body in ({"target": "1002\r\nAction: Hangup"}, {"target": "PJSIP/1002"}, {"target": ""}, {},
                 {"target": "bob", "mode": "warm"}, {"target": "bob", "number": "+8613800000002"}):
        status, answer = await _transfer(api, call_id, "alice", body)
        assert status == 422, (body, answer)
        assert_error(answer, "validation-failed")
    assert not api.pbx.actions
    r = await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))
    assert (await r.json())["legs"] == []


async def test_only_a_call_talking_to_its_customer_is_transferred(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001"},
                              headers=api.auth("alice"))
    call_id = (await r.json())["id"]
    status, body = await _transfer(api, call_id, "alice", {"target": "bob"})
    assert status == 409 and body["error"]["details"]["reason"] == "the customer is not on the line"
    await api.container.calls.apply(FactUpdate(call_id, "test", {"ended_at": T, "failure": "x"}))
    status, body = await _transfer(api, call_id, "alice", {"target": "bob"})
    assert status == 409 and body["error"]["details"]["reason"] == "the call has ended"
    assert api.pbx.actions == [("originate", api.pbx.actions[0][1])]


async def test_a_target_who_is_not_available_is_refused(api: Api) -> None:
    call_id = await _answered_call(api)
    r = await api.client.put("/v1/agents/bob/state", json={"state": "offline"}, headers=api.auth("sam"))
    assert r.status == 200, await r.json()
    status, body = await _transfer(api, call_id, "alice", {"target": "bob"})
    assert status == 409
    assert_error(body, "agent-not-available")
    assert not api.pbx.actions


async def test_the_pbx_down_fails_the_transfer_with_503(api: Api) -> None:
    call_id = await _answered_call(api)
    api.pbx.down = True
    status, body = await _transfer(api, call_id, "alice", {"target": "bob"})
    assert status == 503
    assert_error(body, "pbx-unavailable")
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))).json()
    assert [(t["state"], t["failure"]) for t in legs["transfers"]] == [("failed", "pbx-unavailable")]
    assert (await _types(api, call_id))[-2:] == ["call.transfer_requested", "call.transfer_failed"]
    api.pbx.down = False  # a failed transfer does not block the next one
    status, body = await _transfer(api, call_id, "alice", {"target": "bob"})
    assert status == 202 and body["seq"] == 2


async def test_attended_transfer_consults_then_completes_or_cancels_only_when_it_may(api: Api) -> None:
    call_id = await _answered_call(api)
    for step in ("complete", "cancel"):  # nothing to complete or cancel yet
        r = await api.client.post(f"/v1/calls/{call_id}/transfer/{step}", headers=api.auth("alice"))
        assert r.status == 409 and (await r.json())["error"]["code"] == "call-not-transferable"
    status, body = await _transfer(api, call_id, "alice", {"target": "bob", "mode": "attended"})
    assert status == 202 and (body["mode"], body["state"]) == ("attended", "requested")
    [(action, sent)] = api.pbx.actions
    assert action == "attended_transfer" and (sent["target"], sent["customer_channel"]) == (
        "1002", "PJSIP/customers-00000002")
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/complete", headers=api.auth("alice"))
    assert r.status == 409  # bob has not answered: nothing to complete yet
    leg = sent["target_leg"]
    await api.container.transfers.apply_leg(LegUpdate(call_id, leg, None, "Newstate", {
        "channel": "PJSIP/1002-00000003", "answered_at": T + timedelta(seconds=31)}))
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))).json()
    assert legs["transfers"][0]["state"] == "consulting"
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/complete", headers=api.auth("bob"))
    assert r.status == 404  # another agent does not see alice's call
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/complete", headers=api.auth("alice"))
    body = await r.json()
    assert r.status == 202 and body["state"] == "completed" and body["completed_at"], body
    assert api.pbx.actions[-1] == ("complete_transfer", {
        "pbx": "local", "agent_channel": "PJSIP/1001-00000001", "customer_channel": "PJSIP/customers-00000002",
        "target_channel": "PJSIP/1002-00000003"})
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/cancel", headers=api.auth("alice"))
    assert r.status == 409  # completed: too late to cancel
    assert (await _types(api, call_id))[-3:] == ["call.transfer_requested", "call.transfer_consulting",
                                                 "call.transfer_completed"]


async def test_cancelling_an_attended_transfer_hangs_up_the_targets_leg(api: Api) -> None:
    call_id = await _answered_call(api)
    status, body = await _transfer(api, call_id, "sam", {"target": "bob", "mode": "attended"})
    assert status == 202
    leg = api.pbx.actions[0][1]["target_leg"]
    await api.container.transfers.apply_leg(LegUpdate(call_id, leg, None, "Newstate", {
        "channel": "PJSIP/1002-00000004", "ringing_at": T + timedelta(seconds=30)}))
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/cancel", headers=api.auth("mia"))
    assert r.status == 403  # a manager may not act on calls
    # sam asked for it; alice, who is consulting, may cancel it
    r = await api.client.post(f"/v1/calls/{call_id}/transfer/cancel", headers=api.auth("alice"))
    body = await r.json()
    assert r.status == 202 and body["state"] == "cancelled", body
    assert api.pbx.actions[-1] == ("hangup", {"pbx": "local", "channel": "PJSIP/1002-00000004"})
    # the PBX then tells that bob's phone stopped ringing: the transfer stays cancelled, not failed
    await api.container.transfers.apply_leg(LegUpdate(call_id, leg, None, "Hangup", {
        "ended_at": T + timedelta(seconds=33), "cause": 16}))
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("sam"))).json()
    assert legs["transfers"][0]["state"] == "cancelled"
    assert [x for x in await _types(api, call_id) if x.startswith("call.transfer_")] == [
        "call.transfer_requested", "call.transfer_cancelled"]


async def test_a_number_is_a_dial_for_the_calls_case_through_the_gate(api: Api) -> None:
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001", "case_id": "case-1"},
                              headers=api.auth("alice"))
    assert r.status == 202
    call_id = (await r.json())["id"]
    await api.container.calls.apply(FactUpdate(call_id, "test", {
        "originated_at": T, "agent_ringing_at": T, "agent_answered_at": T, "agent_channel": "PJSIP/1001-00000001",
        "customer_ringing_at": T, "customer_channel": "PJSIP/customers-00000002", "answered_at": T}))
    api.pbx.actions.clear()
    gate = api.container.gate
    assert isinstance(gate, AllowAllGate)
    status, body = await _transfer(api, call_id, "alice", {"number": "138 0000 0101"})
    assert status == 202, body
    assert (body["target"], body["target_role"], body["from_agent"]) == ("+8613800000101", "outside", "alice")
    asked = gate.requests[-1]
    assert (asked.number, asked.case_id, asked.agent_id, asked.principal.user_id, asked.call_id) == (
        "+8613800000101", "case-1", "alice", "alice", call_id)
    assert body["decision_id"]
    [(action, sent)] = api.pbx.actions
    assert action == "blind_transfer_out" and sent["number"] == "+8613800000101"
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))).json()
    assert [(leg["role"], leg["user"], leg["number"]) for leg in legs["legs"]] == [
        ("agent", "alice", None), ("outside", None, "+8613800000101")]


async def test_a_number_for_a_call_without_a_case_or_not_a_phone_number_changes_nothing(api: Api) -> None:
    call_id = await _answered_call(api)  # dialled without a case
    status, body = await _transfer(api, call_id, "alice", {"number": "+8613800000101"})
    assert status == 409
    assert_error(body, "call-not-transferable")
    assert body["error"]["details"]["reason"] == "the call has no case to dial the number for"
    for number in ("+86 12", "12345678901234567890"):
        status, body = await _transfer(api, call_id, "alice", {"number": number})
        assert status == 422, (number, body)
    assert not api.pbx.actions
    assert (await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))).json())["legs"] == []
