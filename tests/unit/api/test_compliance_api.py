"""The compliance admin API: client policies, the do-not-call list, the decision log (thin handlers over
``compliance.admin.ComplianceAdmin``)."""

from __future__ import annotations

from tests.unit.api.conftest import Api
from tests.unit.api.test_calls_api import assert_error


async def test_a_policy_is_stored_with_its_effective_form(api: Api) -> None:
    r = await api.client.get("/v1/compliance/policies/bank1", headers=api.auth("ada"))
    assert r.status == 404
    assert_error(await r.json(), "no-such-policy")
    r = await api.client.put("/v1/compliance/policies/bank1", headers=api.auth("ada"),
                             json={"jurisdiction": "CN", "rules": {"max_connected_per_debtor_per_day": 2},
                                   "retention_days": 1000})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["client_id"], body["jurisdiction"], body["rules"], body["retention_days"], body["updated_by"]) == (
        "bank1", "CN", {"max_connected_per_debtor_per_day": 2}, 1000, "ada")
    assert body["effective"]["max_connected_per_debtor_per_day"] == 2  # stricter than CN's 3: it applies
    r = await api.client.get("/v1/compliance/policies/bank1", headers=api.auth("sam"))
    assert r.status == 200
    assert await r.json() == body


async def test_a_policy_is_checked_before_it_is_stored(api: Api) -> None:
    r = await api.client.put("/v1/compliance/policies/bank1", headers=api.auth("ada"),
                             json={"jurisdiction": "CN", "rules": {}, "retention_days": 30})
    assert r.status == 422
    body = await r.json()
    assert_error(body, "retention-below-floor")
    assert body["error"]["details"] == {"floor_days": 730}
    r = await api.client.put("/v1/compliance/policies/bank1", headers=api.auth("ada"),
                             json={"jurisdiction": "CN", "rules": {"max_connected_per_debtor_per_day": -1}})
    assert r.status == 422
    assert_error(await r.json(), "validation-failed")
    r = await api.client.get("/v1/compliance/policies/bank1", headers=api.auth("ada"))
    assert r.status == 404  # nothing was stored


async def test_do_not_call_entries_are_added_once_and_removed(api: Api) -> None:
    entry = {"value": "+8613800000666", "kind": "exact", "reason": "asked"}
    for _ in range(2):  # idempotent
        r = await api.client.post("/v1/compliance/do-not-call", headers=api.auth("sam"), json=entry)
        assert r.status == 201
        assert await r.json() == {**entry, "client": "bank1"}  # sam's only client
    path = "/v1/compliance/do-not-call/exact/+8613800000666"
    r = await api.client.delete(path, headers=api.auth("ada"))  # a global admin's default: every client's entry
    assert r.status == 404
    r = await api.client.delete(f"{path}?client=bank1", headers=api.auth("ada"))
    assert r.status == 204
    r = await api.client.delete(f"{path}?client=bank1", headers=api.auth("ada"))
    assert r.status == 404
    assert_error(await r.json(), "no-such-entry")


async def test_the_decision_log_is_read_through_the_admin_service(api: Api) -> None:
    r = await api.client.get("/v1/compliance/decisions", headers=api.auth("sam"))
    assert r.status == 200
    assert await r.json() == {"items": [], "next_cursor": None}
    r = await api.client.get("/v1/compliance/decisions/nope", headers=api.auth("sam"))
    assert r.status == 404
    assert_error(await r.json(), "no-such-decision")
