"""Every privileged act is on the record: each appears in ``GET /v1/audit`` with actor, role, client, reason,
before and after, written in the transaction of the change (SQLite and PostgreSQL). Reads of a case's
personal data and exports are there too, one entry per request. And the two-person rule through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from app.compose import build_container
from auth.models import Role
from auth.service import create_user, issue_token
from config.settings import load_settings
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from hooks.outbox import Outbox
from tests.support.doubles import AllowAllGate, RecordingPbx

NUMBER = "+8613800138001"
#: (id, role, team, clients, phone)
PEOPLE = [
    ("alice", Role.AGENT, "t1", ["bank1"], "1001"), ("sam", Role.SUPERVISOR, "t1", ["bank1"], None),
    ("mia", Role.MANAGER, None, ["bank1"], None), ("max", Role.MANAGER, None, ["bank1"], None),
    ("mo", Role.MANAGER, None, ["bank2"], None), ("casesys", Role.INTEGRATION, None, ["bank1"], None),
    ("ada", Role.ADMIN, None, [], None), ("ann", Role.ADMIN, None, ["bank1"], None),
]


class Api:
    def __init__(self, client: TestClient[Any, Any], tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    async def call(self, method: str, path: str, user: str, body: Any = None, **params: str) -> tuple[int, Any]:
        r = await self.client.request(method, path, json=body, params=params,
                                      headers={"Authorization": f"Bearer {self.tokens[user]}",
                                               "X-Request-Id": f"req-{user}"})
        return r.status, await r.json() if r.content_type == "application/json" else await r.read()

    async def case(self, ext: str = "C-1", **over: Any) -> str:
        body = {"debtor_name": "张三", "amount": "100", "currency": "CNY", "timezone": "Asia/Shanghai", "team": "t1",
                "agent": "alice", "contacts": [{"number": NUMBER, "kind": "mobile"}], **over}
        status, doc = await self.call("PUT", f"/v1/clients/bank1/cases/{ext}", "casesys", body)
        assert status in (200, 201), doc
        return str(doc["id"])

    async def audit(self, user: str = "mia", **params: str) -> list[dict[str, Any]]:
        status, doc = await self.call("GET", "/v1/audit", user, **params)
        assert status == 200, doc
        items: list[dict[str, Any]] = doc["items"]
        return items


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    settings = load_settings(None, database={"url": db.url}, hooks={"allow_private_targets": True})
    tokens = {}
    async with db.begin() as s:
        for uid, role, team, clients, sip in PEOPLE:
            await create_user(s, user_id=uid, role=role, team=team, clients=clients, sip_user=sip)
            tokens[uid] = await issue_token(s, user_id=uid)
    async with TaskGroup() as tasks:
        events = EventLog()
        Outbox(Clock()).install(events)  # webhook deliveries, as compose installs it
        stream = EventStream(db, poll_interval=0.05)
        container = build_container(settings=settings, clock=Clock(), db=db, events=events, stream=stream,
                                    tasks=tasks, pbx=RecordingPbx(), gate=AllowAllGate())
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Api(client, tokens)
        finally:
            await client.close()


def _one(entries: list[dict[str, Any]], action: str) -> dict[str, Any]:
    found = [e for e in entries if e["action"] == action]
    assert len(found) == 1, (action, [e["action"] for e in entries])
    return found[0]


async def test_a_hard_stop_needs_two_people_and_every_step_is_on_the_record(api: Api) -> None:
    case_id = await api.case(status="on_hold", hold_reason="deceased")
    status, err = await api.call("DELETE", f"/v1/cases/{case_id}/holds/deceased", "sam")
    assert status == 409 and err["error"]["code"] == "two-person-rule"
    assert err["error"]["details"] == {"request_route": "POST /v1/release-requests", "request": {
        "kind": "case_hold", "case_id": case_id, "hold_reason": "deceased"}}
    status, doc = await api.call("GET", f"/v1/cases/{case_id}", "sam")
    assert [h["reason"] for h in doc["holds"]] == ["deceased"]  # nothing changed
    status, asked = await api.call("POST", "/v1/release-requests", "sam", {
        **err["error"]["details"]["request"], "reason": "the bank withdrew the death notice"})
    assert status == 201 and asked["state"] == "pending"
    approve = f"/v1/release-requests/{asked['id']}/approve"
    for user, expected in (("sam", 403), ("mo", 404), ("alice", 403)):
        status, _ = await api.call("POST", approve, user, {"reason": "not mine to decide"})
        assert status == expected, user
    status, done = await api.call("POST", approve, "mia", {"reason": "checked the bank's letter"})
    assert status == 200 and (done["state"], done["decided_by"]) == ("approved", "mia")
    status, again = await api.call("POST", approve, "max", {"reason": "twice"})
    assert status == 409 and again["error"]["code"] == "release-request-decided"
    status, doc = await api.call("GET", f"/v1/cases/{case_id}", "sam")
    assert doc["holds"] == [] and doc["status"] == "active"
    entries = await api.audit(target_id=asked["id"])
    assert [(e["action"], e["actor_id"], e["actor_role"], e["client_id"], e["reason"]) for e in entries] == [
        ("release_request.approved", "mia", "manager", "bank1", "checked the bank's letter"),
        ("release_request.created", "sam", "supervisor", "bank1", "the bank withdrew the death notice")]
    released = _one(await api.audit(target_id=case_id), "hold.released")
    assert (released["actor_id"], released["request_id"], released["after"]["requested_by"]) == ("mia", "req-mia",
                                                                                                   "sam")
    assert released["before"]["holds"][0]["reason"] == "deceased" and released["after"]["status"] == "active"
    assert await api.audit("mo") == []  # another bank's manager sees none of it
    # the requester never approves; a rejection is on the record too
    await api.call("POST", f"/v1/cases/{case_id}/holds", "casesys", {"reason": "attorney"})
    status, mine = await api.call("POST", "/v1/release-requests", "mia", {
        "kind": "case_hold", "case_id": case_id, "hold_reason": "attorney", "reason": "asked by the manager"})
    assert status == 201
    status, err = await api.call("POST", f"/v1/release-requests/{mine['id']}/approve", "mia", {"reason": "mine"})
    assert status == 409 and err["error"]["code"] == "same-person"
    status, rej = await api.call("POST", f"/v1/release-requests/{mine['id']}/reject", "ann",
                                 {"reason": "the lawyer's letter stands"})
    assert status == 200 and rej["state"] == "rejected"
    rejected = _one(await api.audit(target_id=mine["id"]), "release_request.rejected")
    assert (rejected["actor_id"], rejected["before"]["state"], rejected["after"]["state"]) == (
        "ann", "pending", "rejected")
    # the case system itself still lifts its own stop, on the record
    status, _ = await api.call("DELETE", f"/v1/cases/{case_id}/holds/attorney", "casesys", why="settled")
    assert status == 200
    lifted = [e for e in await api.audit(target_id=case_id) if e["action"] == "hold.released"]
    assert (lifted[0]["actor_id"], lifted[0]["reason"]) == ("casesys", "settled")
    status, page = await api.call("GET", "/v1/release-requests", "mia")
    assert [r["id"] for r in page["items"]] == [mine["id"], asked["id"]]
    assert (await api.call("GET", f"/v1/release-requests/{asked['id']}", "mo"))[0] == 404


async def test_a_do_not_call_number_back_to_valid_needs_two_people(api: Api) -> None:
    case_id = await api.case()
    status, _ = await api.call("POST", f"/v1/cases/{case_id}/numbers", "sam",
                               {"number": NUMBER, "status": "do_not_call", "reason": "the debtor asked"})
    assert status == 200
    status, err = await api.call("POST", f"/v1/cases/{case_id}/numbers", "sam", {"number": NUMBER, "status": "valid"})
    assert status == 409 and err["error"]["details"]["request"] == {
        "kind": "do_not_call_number", "case_id": case_id, "number": NUMBER}
    status, err = await api.call("POST", f"/v1/cases/{case_id}/numbers", "ann", {"number": NUMBER, "status": "valid"})
    assert status == 409  # an admin is a person too
    status, asked = await api.call("POST", "/v1/release-requests", "sam", {
        "kind": "do_not_call_number", "case_id": case_id, "number": "138 0013 8001", "reason": "written consent"})
    assert status == 201 and asked["number"] == NUMBER
    status, _ = await api.call("POST", f"/v1/release-requests/{asked['id']}/approve", "max", {"reason": "on file"})
    assert status == 200
    status, doc = await api.call("GET", f"/v1/cases/{case_id}", "sam")
    assert doc["contacts"][0]["status"] == "valid"
    changes = [e for e in await api.audit(target_id=case_id) if e["action"] == "case_number.changed"]
    assert [(e["actor_id"], e["before"]["status"], e["after"]["status"]) for e in changes] == [
        ("max", "do_not_call", "valid"), ("sam", "valid", "do_not_call")]
    assert changes[1]["reason"] == "the debtor asked"


async def test_status_and_assignment_changes_are_on_the_record(api: Api) -> None:
    case_id = await api.case()
    status, _ = await api.call("PUT", f"/v1/cases/{case_id}/assignment", "sam",
                               {"agent": None, "team": "t1", "reason": "alice is on leave"})
    assert status == 200
    await api.call("PUT", f"/v1/cases/{case_id}/assignment", "sam", {"agent": None, "team": "t1"})  # unchanged
    status, _ = await api.call("POST", f"/v1/cases/{case_id}/status", "casesys",
                               {"status": "paid", "reason": "paid in full"})
    assert status == 200
    entries = await api.audit(target_id=case_id)
    assigned = _one(entries, "case.assigned")
    assert (assigned["actor_id"], assigned["client_id"], assigned["reason"]) == ("sam", "bank1", "alice is on leave")
    assert (assigned["before"], assigned["after"]) == ({"assigned_agent": "alice", "team": "t1"},
                                                       {"assigned_agent": None, "team": "t1"})
    paid = _one(entries, "case.status_changed")
    assert (paid["actor_id"], paid["before"], paid["after"], paid["reason"]) == (
        "casesys", {"status": "active"}, {"status": "paid"}, "paid in full")


async def test_policy_changes_keep_their_whole_history(api: Api) -> None:
    path = "/v1/compliance/policies/bank1"
    first = {"jurisdiction": "CN", "rules": {"max_unanswered_per_number_per_day": 2}, "reason": "new contract"}
    assert (await api.call("PUT", path, "ada", first))[0] == 200
    assert (await api.call("PUT", path, "ada", first))[0] == 200  # the same policy again: nothing recorded
    assert (await api.call("PUT", path, "ada", {"jurisdiction": "DEMO", "reason": "demo week"}))[0] == 200
    history = await api.audit(target_type="client_policy", target_id="bank1")
    assert [(e["action"], e["actor_id"], e["client_id"], e["reason"]) for e in history] == [
        ("policy.changed", "ada", "bank1", "demo week"), ("policy.changed", "ada", "bank1", "new contract")]
    assert history[1]["before"] is None and history[1]["after"]["rules"] == first["rules"]
    assert (history[0]["before"]["jurisdiction"], history[0]["before"]["rules"]) == ("CN", first["rules"])
    assert (history[0]["after"]["jurisdiction"], history[0]["after"]["rules"]) == ("DEMO", {})


async def test_do_not_call_adds_and_removals_are_on_the_record(api: Api) -> None:
    body = {"value": "+8613800000666", "reason": "asked not to be called"}
    assert (await api.call("POST", "/v1/compliance/do-not-call", "sam", body))[0] == 201
    assert (await api.call("POST", "/v1/compliance/do-not-call", "sam", body))[0] == 201  # already there
    status, _ = await api.call("DELETE", "/v1/compliance/do-not-call/exact/+8613800000666", "ada",
                               client="bank1", reason="entered by mistake")  # sam's entry binds sam's bank
    assert status == 204
    entries = await api.audit("ada", target_type="do_not_call")
    assert [(e["action"], e["actor_id"], e["actor_role"], e["reason"]) for e in entries] == [
        ("do_not_call.removed", "ada", "admin", "entered by mistake"),
        ("do_not_call.added", "sam", "supervisor", "asked not to be called")]
    assert entries[0]["before"]["added_by"] == "sam" and entries[0]["after"] is None
    assert entries[1]["after"]["value"] == "+8613800000666" and entries[1]["client_id"] == "bank1"


async def test_webhook_subscription_changes_are_on_the_record_and_a_deleted_one_keeps_its_history(
        api: Api) -> None:
    status, sub = await api.call("POST", "/v1/hooks/subscriptions", "casesys", {
        "url": "http://127.0.0.1:9/hook", "event_types": ["case.*"], "reason": "go live"})
    assert status == 201
    await api.case()  # an event: one delivery to the subscription
    path = f"/v1/hooks/subscriptions/{sub['id']}"
    status, rotated = await api.call("PATCH", path, "casesys", {"rotate_secret": True, "reason": "yearly"})
    assert status == 200 and rotated["secret"]
    status, _ = await api.call("DELETE", path, "casesys", reason="moved to the new system")
    assert status == 204
    assert (await api.call("GET", path, "casesys"))[0] == 404
    assert (await api.call("GET", "/v1/hooks/subscriptions", "casesys"))[1]["items"] == []
    status, deliveries = await api.call("GET", "/v1/hooks/deliveries", "casesys", subscription_id=sub["id"])
    assert status == 200 and [d["state"] for d in deliveries["items"]] == ["disabled"]  # the history stays
    status, replayed = await api.call("POST", "/v1/hooks/replay", "casesys", {"subscription_id": sub["id"]})
    assert replayed == {"queued": 0}
    status, replayed = await api.call("POST", "/v1/hooks/replay", "casesys",
                                      {"delivery_ids": [deliveries["items"][0]["id"]]})
    assert replayed == {"queued": 0}  # never sent again
    entries = await api.audit(target_id=sub["id"])
    assert [(e["action"], e["actor_id"], e["client_id"], e["reason"]) for e in entries] == [
        ("hook_subscription.deleted", "casesys", "bank1", "moved to the new system"),
        ("hook_subscription.updated", "casesys", "bank1", "yearly"),
        ("hook_subscription.created", "casesys", "bank1", "go live")]
    assert (entries[0]["before"]["deleted"], entries[0]["after"]["deleted"]) == (False, True)
    assert entries[0]["after"]["secret_count"] == 0 and entries[1]["after"]["rotated_secret"] is True
    assert rotated["secret"] not in str(entries)


async def test_every_read_of_a_cases_personal_data_and_every_export_is_on_the_record(api: Api) -> None:
    case_id = await api.case()
    reads = [("GET", f"/v1/cases/{case_id}", {}), ("GET", "/v1/clients/bank1/cases/C-1", {}),
             ("GET", "/v1/cases", {}), ("GET", f"/v1/cases/{case_id}/contacts", {}),
             ("GET", f"/v1/cases/{case_id}/evidence", {}), ("GET", f"/v1/cases/{case_id}/evidence", {"format": "zip"})]
    for method, path, params in reads:
        status, _ = await api.call(method, path, "mia", **params)
        assert status == 200, path
    status, _ = await api.call("GET", "/v1/reports/connect-rate", "mia", format="csv", **{
        "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})
    assert status == 200
    status, _ = await api.call("GET", "/v1/reports/connect-rate", "mia", **{
        "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})  # JSON: no export
    entries = [e for e in await api.audit() if e["actor_id"] == "mia"]
    assert sorted(e["action"] for e in entries) == sorted([
        "case.read", "case.read", "case.listed", "case.contacts_read", "case.evidence_read",
        "case.evidence_exported", "report.exported"])
    assert all(e["client_id"] == "bank1" and e["actor_role"] == "manager" for e in entries)
    listed = _one(entries, "case.listed")
    assert listed["after"]["case_ids"] == [case_id]
    exported = _one(entries, "report.exported")
    assert (exported["target_id"], exported["after"]["format"]) == ("connect-rate", "csv")
    # the case system's write answers the case it wrote: not a read of its own
    assert not [e for e in await api.audit() if e["actor_id"] == "casesys" and e["action"] == "case.read"]
