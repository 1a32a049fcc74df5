"""Every /v1/hooks/* and /v1/compliance/* route of the composed service: 401, 403 for each wrong role, 422,
the happy path; and the composition root's webhook wiring delivering an event end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from auth.models import Role
from auth.service import OPERATOR, create_user, issue_token
from cases.rows import CaseIn
from core.events import DomainEvent
from tests.support.composed import USERS, Composed, composed
from tests.support.receiver import Receiver, fail
from tests.unit.hooks.helpers import wait_until

HOOKS = {"allow_private_targets": True, "poll_interval_s": 0.05}
ALL_ROLES = frozenset(USERS.values())
ADMIN = frozenset({Role.ADMIN})
HOOK_ADMINS = frozenset({Role.ADMIN, Role.INTEGRATION})  # an integration manages its own client's
DIALERS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION})
AUDITORS = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})

#: method, path, body, the roles allowed; ids below name rows that exist in ``svc``
ROUTES: list[tuple[str, str, Any, frozenset[Role]]] = [
    ("POST", "/v1/hooks/subscriptions", {"url": "http://127.0.0.1:9/h", "event_types": ["*"]}, HOOK_ADMINS),
    ("GET", "/v1/hooks/subscriptions", None, HOOK_ADMINS),
    ("GET", "/v1/hooks/subscriptions/{sub}", None, HOOK_ADMINS),
    ("PATCH", "/v1/hooks/subscriptions/{sub}", {"description": "x"}, HOOK_ADMINS),
    ("DELETE", "/v1/hooks/subscriptions/{sub}", None, HOOK_ADMINS),
    ("GET", "/v1/hooks/deliveries", None, HOOK_ADMINS),
    ("GET", "/v1/hooks/deliveries/1/attempts", None, HOOK_ADMINS),
    ("POST", "/v1/hooks/replay", {"delivery_ids": []}, HOOK_ADMINS),
    ("POST", "/v1/compliance/check", {"agent": "alice", "number": "+8613800000001"}, DIALERS),
    ("GET", "/v1/compliance/decisions", None, AUDITORS),
    ("GET", "/v1/compliance/decisions/{decision}", None, AUDITORS),
    ("PUT", "/v1/compliance/policies/bank1", {"jurisdiction": "DEMO"}, ADMIN),
    ("GET", "/v1/compliance/policies/bank1", None, frozenset({Role.ADMIN, Role.SUPERVISOR, Role.MANAGER})),
    ("POST", "/v1/compliance/do-not-call", {"value": "+8613800000666"}, frozenset({Role.ADMIN, Role.SUPERVISOR})),
    ("DELETE", "/v1/compliance/do-not-call/exact/+8613800000666", None, ADMIN),
]
#: a body (or query) each validating route refuses with 422, and the field it must name
INVALID: list[tuple[str, str, Any, str]] = [
    ("POST", "/v1/hooks/subscriptions", {"url": "http://127.0.0.1:9/h", "event_types": []}, "event_types"),
    ("PATCH", "/v1/hooks/subscriptions/{sub}", {"colour": "red"}, "colour"),
    ("GET", "/v1/hooks/deliveries?limit=0", None, "limit"),
    ("POST", "/v1/hooks/replay", {"delivery_ids": ["one"]}, "delivery_ids"),
    ("POST", "/v1/compliance/check", {"agent": "alice"}, "number"),
    ("GET", "/v1/compliance/decisions?limit=9999", None, "limit"),
    ("PUT", "/v1/compliance/policies/bank1", {"jurisdiction": "MARS"}, "jurisdiction"),
    ("POST", "/v1/compliance/do-not-call", {"value": "8613800000666"}, "value"),
]


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Composed]:
    async with composed(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}", hooks=HOOKS,
                        compliance={"default_profile": "DEMO"}) as c:
        # the numbers the agent checks belong to a case of bank1 assigned to her (a number of no case is a
        # supervisor's manual dial)
        await c.container.cases.upsert(OPERATOR, client_id="bank1", data=CaseIn.model_validate({
            "external_id": "C-1", "debtor_name": "Wang", "amount": "100.00", "currency": "CNY", "agent": "alice",
            "contacts": [{"number": "+8613800000001", "kind": "mobile"},
                         {"number": "+8613800000666", "kind": "mobile"}]}))
        yield c


async def _fill(svc: Composed, path: str) -> str:
    """Replace {sub} and {decision} with a subscription and a decision that exist."""
    if "{sub}" in path:
        r = await svc.client.post("/v1/hooks/subscriptions", headers=svc.auth("ada"),
                                  json={"url": "http://127.0.0.1:9/h", "event_types": ["case.*"]})
        assert r.status == 201, await r.text()
        path = path.replace("{sub}", (await r.json())["id"])
    if "{decision}" in path:
        r = await svc.client.post("/v1/compliance/check", headers=svc.auth("alice"),
                                  json={"agent": "alice", "number": "+8613800000001"})
        assert r.status == 200, await r.text()
        path = path.replace("{decision}", (await r.json())["decision_id"])
    return path


async def _error(resp: Any) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


async def test_every_route_is_401_without_a_token_and_403_for_each_wrong_role(svc: Composed) -> None:
    for method, path, body, allowed in ROUTES:
        url = await _fill(svc, path)
        r = await svc.client.request(method, url, json=body)
        assert r.status == 401, (method, path)
        assert (await _error(r))["code"]
        for role in sorted(ALL_ROLES - allowed):
            r = await svc.client.request(method, url, json=body, headers=svc.as_role(role))
            assert r.status == 403, (method, path, role)
            assert (await _error(r))["code"] == "forbidden", (method, path, role)
        for role in sorted(allowed):  # an allowed role is never refused for its role
            r = await svc.client.request(method, url, json=body, headers=svc.as_role(role))
            assert r.status not in (401, 403), (method, path, role, await r.text())


async def test_invalid_input_is_422_naming_the_field(svc: Composed) -> None:
    for method, path, body, field in INVALID:
        url = await _fill(svc, path)
        r = await svc.client.request(method, url, json=body, headers=svc.auth("ada"))
        assert r.status == 422, (method, path, await r.text())
        err = await _error(r)
        assert err["code"] == "validation-failed", err
        assert field in str(err.get("details")), (method, path, err)


@pytest.mark.fake_events
async def test_hooks_routes_happy_path(svc: Composed) -> None:
    ada = svc.auth("ada")
    async with Receiver(secret="", script=[fail(410)]) as rx:  # the receiver is gone: the delivery is parked
        r = await svc.client.post("/v1/hooks/subscriptions", headers=ada,
                                  json={"url": rx.url, "event_types": ["case.*"], "description": "bank"})
        assert r.status == 201
        created = await r.json()
        assert created["secret"] and created["event_types"] == ["case.*"] and created["active"] is True
        sub, rx.secret = created["id"], created["secret"]
        listed = await (await svc.client.get("/v1/hooks/subscriptions", headers=ada)).json()
        assert [s["id"] for s in listed["items"]] == [sub] and listed["items"][0].get("secret") is None
        async with svc.container.db.begin() as s:
            await svc.container.events.record(s, DomainEvent(type="case.updated", case_id="c1", payload={}))
        svc.container.events.committed()
        await rx.wait_for(1, timeout=60)
        async def disabled() -> bool:
            one.update(await (await svc.client.get(f"/v1/hooks/subscriptions/{sub}", headers=ada)).json())
            return bool(one["disabled_reason"])

        one: dict[str, Any] = {}
        await wait_until(disabled, timeout=60)
        assert one["active"] is False and "410" in one["disabled_reason"] and one["description"] == "bank"
    deliveries = await (await svc.client.get(f"/v1/hooks/deliveries?subscription_id={sub}", headers=ada)).json()
    assert [(d["event_type"], d["state"]) for d in deliveries["items"]] == [("case.updated", "disabled")]
    delivery = deliveries["items"][0]["id"]
    attempts = await (await svc.client.get(f"/v1/hooks/deliveries/{delivery}/attempts", headers=ada)).json()
    assert [a["status"] for a in attempts["items"]] == [410]
    r = await svc.client.patch(f"/v1/hooks/subscriptions/{sub}", headers=ada, json={"description": "bank 2"})
    assert r.status == 200 and (await r.json())["description"] == "bank 2"
    r = await svc.client.post("/v1/hooks/replay", headers=ada, json={"delivery_ids": [delivery]})
    assert r.status == 200 and (await r.json()) == {"queued": 1}
    r = await svc.client.delete(f"/v1/hooks/subscriptions/{sub}", headers=ada)
    assert r.status == 204
    r = await svc.client.get(f"/v1/hooks/subscriptions/{sub}", headers=ada)
    assert r.status == 404


async def test_compliance_routes_happy_path(svc: Composed) -> None:
    ada, sam = svc.auth("ada"), svc.auth("sam")
    r = await svc.client.put("/v1/compliance/policies/bank1", headers=ada,
                             json={"jurisdiction": "DEMO", "rules": {"do_not_call_prefixes": ["+8613900"]}})
    assert r.status == 200, await r.text()
    policy = await (await svc.client.get("/v1/compliance/policies/bank1", headers=sam)).json()
    assert policy["jurisdiction"] == "DEMO"
    r = await svc.client.post("/v1/compliance/do-not-call", headers=sam,
                              json={"value": "+8613800000666", "reason": "asked"})
    assert r.status == 201 and (await r.json())["client"] == "bank1"  # sam's only client
    check = await svc.client.post("/v1/compliance/check", headers=svc.auth("alice"),
                                  json={"agent": "alice", "number": "+8613800000666"})
    assert check.status == 200
    blocked = await check.json()
    assert blocked["allowed"] is False and blocked["code"] == "do-not-call"
    decisions = await (await svc.client.get("/v1/compliance/decisions?allowed=false", headers=sam)).json()
    assert [d["id"] for d in decisions["items"]] == [blocked["decision_id"]]
    one = await (await svc.client.get(f"/v1/compliance/decisions/{blocked['decision_id']}", headers=sam)).json()
    assert one["code"] == "do-not-call" and one["number"] == "+8613800000666"
    r = await svc.client.delete("/v1/compliance/do-not-call/exact/+8613800000666", headers=ada)
    assert r.status == 404  # a global admin's default is an entry of every client: there is none
    r = await svc.client.delete("/v1/compliance/do-not-call/exact/+8613800000666?client=bank1", headers=ada)
    assert r.status == 204
    r = await svc.client.delete("/v1/compliance/do-not-call/exact/+8613800000666?client=bank1", headers=ada)
    assert r.status == 404
    check = await svc.client.post("/v1/compliance/check", headers=svc.auth("alice"),
                                  json={"agent": "alice", "number": "+8613800000666"})
    assert (await check.json())["allowed"] is True, await check.text()


@pytest.mark.fake_events
async def test_the_composed_service_delivers_a_webhook_end_to_end(database_url: str, tmp_path: Path) -> None:
    """The composition root's own hooks start-up (outbox, dispatcher task, service), not a test-built one."""
    async with Receiver(secret="") as rx, composed(tmp_path, database_url, hooks=HOOKS) as c:
        r = await c.client.post("/v1/hooks/subscriptions", headers=c.auth("ada"),
                                json={"url": rx.url, "event_types": ["case.*"]})
        assert r.status == 201
        rx.secret = (await r.json())["secret"]
        async with c.container.db.begin() as s:
            await c.container.events.record(s, DomainEvent(type="case.updated", case_id="c1", payload={"n": 1}))
            await c.container.events.record(s, DomainEvent(type="call.ended", call_id="x", payload={}))
        c.container.events.committed()
        got = await rx.wait_for(1, timeout=60)
        assert len(got) == 1 and got[0].verified
        assert got[0].json["type"] == "case.updated" and got[0].json["data"]["n"] == 1


@pytest.mark.fake_events
async def test_an_integration_manages_only_its_clients_subscriptions(database_url: str, tmp_path: Path) -> None:
    async with composed(tmp_path, database_url, hooks=HOOKS) as svc:
        async with svc.container.db.begin() as s:
            for uid, client in (("hook_a", "bank-a"), ("hook_b", "bank-b")):
                await create_user(s, user_id=uid, role=Role.INTEGRATION, clients=[client])
                svc.tokens[uid] = await issue_token(s, user_id=uid)
        a, b, ada = svc.auth("hook_a"), svc.auth("hook_b"), svc.auth("ada")
        new = {"url": "http://127.0.0.1:9/h", "event_types": ["case.*"]}
        r = await svc.client.post("/v1/hooks/subscriptions", headers=a, json=new)
        assert r.status == 201 and (await r.json())["client"] == "bank-a"
        sub = (await r.json())["id"]
        r = await svc.client.post("/v1/hooks/subscriptions", headers=a, json={**new, "client": "bank-b"})
        assert r.status == 404 and (await _error(r))["code"] == "no-such-client"
        r = await svc.client.post("/v1/hooks/subscriptions", headers=ada, json=new)
        assert (await r.json())["client"] is None  # the global admin's platform subscription
        platform = (await r.json())["id"]
        for client in ("bank-b", "bank-a"):
            async with svc.container.db.begin() as s:
                await svc.container.events.record(s, DomainEvent(type="case.updated", case_id=f"c-{client}",
                                                                 client_id=client, payload={}))

        async def deliveries(headers: dict[str, str], sub_id: str) -> list[dict[str, Any]]:
            r = await svc.client.get(f"/v1/hooks/deliveries?subscription_id={sub_id}", headers=headers)
            assert r.status == 200
            items: list[dict[str, Any]] = (await r.json())["items"]
            return items

        mine = await deliveries(a, sub)
        assert len(mine) == 1  # bank A's event only, never bank B's
        assert len(await deliveries(ada, platform)) == 2 and await deliveries(a, platform) == []
        assert await deliveries(b, sub) == []
        listed = await (await svc.client.get("/v1/hooks/subscriptions", headers=b)).json()
        assert listed["items"] == []
        assert [i["id"] for i in (await (await svc.client.get("/v1/hooks/subscriptions", headers=a)).json())[
            "items"]] == [sub]
        missing = await _error(await svc.client.get("/v1/hooks/subscriptions/nope", headers=b))
        for method, path, body in (("GET", f"/v1/hooks/subscriptions/{sub}", None),
                                   ("PATCH", f"/v1/hooks/subscriptions/{sub}", {"description": "mine now"}),
                                   ("DELETE", f"/v1/hooks/subscriptions/{sub}", None),
                                   ("GET", f"/v1/hooks/subscriptions/{platform}", None)):
            r = await svc.client.request(method, path, json=body, headers=b)
            assert r.status == 404 and (await _error(r))["code"] == missing["code"], (method, path)
        r = await svc.client.get(f"/v1/hooks/deliveries/{mine[0]['id']}/attempts", headers=b)
        assert r.status == 404 and (await _error(r))["code"] == "no-such-delivery"
        assert (await svc.client.get(f"/v1/hooks/deliveries/{mine[0]['id']}/attempts", headers=a)).status == 200
        r = await svc.client.post("/v1/hooks/replay", headers=b, json={"subscription_id": sub})
        assert (await r.json()) == {"queued": 0}
        assert (await svc.client.get(f"/v1/hooks/subscriptions/{sub}", headers=a)).status == 200
