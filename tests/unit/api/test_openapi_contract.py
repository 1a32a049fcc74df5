"""The OpenAPI document says what the service does: parameters, statuses, methods, the event stream, webhooks."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from api.app import event_data, event_types
from api.docs import add_docs_routes
from api.middleware import errors_middleware
from core.events import event_to_json
from core.models import DomainEventRow
from core.pagination import CURSOR_PATTERN, decode_cursor, encode_cursor
from dialer.states import CallState
from dialer.translate import FactUpdate
from hooks.outbox import event_body
from tests.unit.api.conftest import Api


async def _spec(api: Api) -> dict[str, Any]:
    spec: dict[str, Any] = await (await api.client.get("/v1/openapi.json")).json()
    validate(spec)
    return spec


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """Validates against ``schema`` with the document's components reachable through ``$ref``."""
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]},
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _param(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in spec["paths"][path][method]["parameters"] if p["name"] == name)
    return found


async def test_enum_query_parameters_keep_their_values_and_the_service_agrees(api: Api) -> None:
    spec = await _spec(api)
    state = _param(spec, "/v1/calls", "get", "state")["schema"]
    ref = state["$ref"].rsplit("/", 1)[-1]
    assert spec["components"]["schemas"][ref]["enum"] == [s.value for s in CallState]
    for value in ("stored", "ended"):
        documented = _validator(spec, state).is_valid(value)
        r = await api.client.get(f"/v1/calls?state={value}", headers=api.auth("sam"))
        assert (r.status == 200) == documented, (value, r.status)


async def test_query_parameters_have_no_null_and_no_pydantic_only_keywords(api: Api) -> None:
    spec = await _spec(api)
    text = json.dumps(spec)
    assert not re.search(r'"(ge|gt|le|lt|max_digits|decimal_places)":', text)
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for p in op.get("parameters", []):
                assert {"type": "null"} not in p["schema"].get("anyOf", []), (path, p["name"])
    since = _param(spec, "/v1/calls", "get", "from")["schema"]
    assert since == {"type": "string", "format": "date-time"}


async def test_the_cursor_form_is_documented_and_what_the_service_issues(api: Api) -> None:
    spec = await _spec(api)
    cursor = _param(spec, "/v1/calls", "get", "cursor")["schema"]
    assert cursor["pattern"] == CURSOR_PATTERN
    issued = encode_cursor(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "0d1f2c3b-aaaa-4bbb-8ccc-123456789abc")
    assert re.match(CURSOR_PATTERN, issued)
    assert decode_cursor(issued) == (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                                     "0d1f2c3b-aaaa-4bbb-8ccc-123456789abc")
    # any cursor of the documented form is accepted (it is a position, not a secret)
    r = await api.client.get("/v1/calls?cursor=0_x", headers=api.auth("sam"))
    assert r.status == 200 and (await r.json())["items"] == []


async def test_every_example_in_the_document_validates(api: Api) -> None:
    spec = await _spec(api)
    checked = 0
    for name, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples", []):
            errors = list(_validator(spec, {"$ref": f"#/components/schemas/{name}"}).iter_errors(example))
            assert not errors, (name, example, errors[0].message)
            checked += 1
    assert checked >= 7
    # and the service takes them: a case upsert from its example
    example = spec["components"]["schemas"]["CasePut"]["examples"][0]
    r = await api.client.put("/v1/clients/bank1/cases/ext-9", json=example, headers=api.auth("ada"))
    assert r.status == 201, await r.text()


async def test_every_operation_lists_the_statuses_its_kind_can_answer(api: Api) -> None:
    spec = await _spec(api)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if op.get("security"):
                assert {"401", "503"} <= codes, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= codes, (method, path)
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")) and not (path == "/readyz" and code == "503"):
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, code)
    put_case = spec["paths"]["/v1/clients/{client}/cases/{external_id}"]["put"]["responses"]
    assert {"200", "201"} <= set(put_case) and "links" in put_case["201"]


async def test_allow_header_agrees_with_the_documented_methods(api: Api) -> None:
    spec = await _spec(api)
    for path, concrete in [("/v1/clients/{client}/cases/bulk", "/v1/clients/bank1/cases/bulk"),
                           ("/v1/recordings/probe", "/v1/recordings/probe"),
                           ("/v1/recordings/gaps", "/v1/recordings/gaps")]:
        r = await api.client.request("PATCH", concrete, headers=api.auth("ada"))
        assert r.status == 405, (concrete, r.status)
        assert set(r.headers["Allow"].split(",")) == {m.upper() for m in spec["paths"][path]}, concrete
    # the external id "bulk" is the bulk import's path, and documented as excluded
    ext = _param(spec, "/v1/clients/{client}/cases/{external_id}", "get", "external_id")["schema"]
    assert not re.match(ext["pattern"], "bulk") and re.match(ext["pattern"], "ext-1")


async def test_event_stream_events_validate_against_the_document(api: Api) -> None:
    spec = await _spec(api)
    schema = spec["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    components = spec["components"]["schemas"]
    assert schema == {"$ref": "#/components/schemas/EventStreamMessage"}
    assert components["EventStreamMessage"]["discriminator"]["propertyName"] == "event"
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        # the allow-all gate of these tests gives the call no client: only a global admin sees its events
        async with api.client.get("/v1/events", headers=api.auth("ada")) as resp:
            event: dict[str, Any] = {}
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if event:
                        events.append(event)
                        event = {}
                    if len(events) == 2:
                        return
                elif ":" in line:
                    key, _, value = line.partition(":")
                    event[key] = value.removeprefix(" ")

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.3)
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001"},
                              headers=api.auth("alice"))
    assert r.status == 202
    await asyncio.wait_for(task, 5)
    first, second = events
    hello, requested = components["EventStreamMessage.hello"], components["EventStreamMessage.call.requested"]
    assert first["event"] == "hello" and _validator(spec, schema).is_valid(first)
    data = json.loads(first["data"])
    assert isinstance(data, dict) and data == {"user": "ada", "role": "admin"}
    assert _validator(spec, hello["properties"]["data"]["contentSchema"]).is_valid(data)
    assert second["event"] == "call.requested" and _validator(spec, schema).is_valid(second)
    event_schema = _validator(spec, requested["properties"]["data"]["contentSchema"])
    live = json.loads(second["data"])
    assert event_schema.is_valid(live), list(event_schema.iter_errors(live))
    assert live["data"]["state"] == "requested" and live["data"]["agent_id"] == "alice"
    assert not _validator(spec, hello).is_valid(second)
    # the data schema is the type's own, closed: a key the model lacks, or another type's data, fails
    assert not event_schema.is_valid({**live, "data": {**live["data"], "number": "+8613800000001"}})
    assert not event_schema.is_valid({**live, "data": {k: v for k, v in live["data"].items() if k != "state"}})
    assert not event_schema.is_valid({**live, "type": "call.answered"})
    blocked = _validator(spec, components["EventStreamMessage.call.blocked"]["properties"]["data"]["contentSchema"])
    assert not blocked.is_valid({**live, "type": "call.blocked"})


_ANSWERED = {"call_id": "c-1", "agent_id": "alice", "case_id": None, "client_id": None, "batch_id": None,
             "state": "answered", "end_reason": None, "hangup_cause": None, "ring_seconds": 2.5,
             "talk_seconds": None}


async def test_webhooks_are_documented_with_the_body_the_dispatcher_sends(api: Api) -> None:
    spec = await _spec(api)
    assert "call.answered" in spec["webhooks"] and "case.updated" in spec["webhooks"]
    row = DomainEventRow(id=7, event_id="e-1", type="call.answered", occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
                         call_id="c-1", case_id=None, agent_id="alice", client_id=None, team=None,
                         payload=_ANSWERED)
    body = json.loads(event_body(row))
    schema = spec["webhooks"]["call.answered"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert _validator(spec, schema).is_valid(body), list(_validator(spec, schema).iter_errors(body))
    assert not _validator(spec, schema).is_valid({**body, "data": {**body["data"], "extra": 1}})
    assert not _validator(spec, schema).is_valid({**body, "data": {k: v for k, v in body["data"].items()
                                                                   if k != "event_id"}})
    assert not _validator(spec, spec["webhooks"]["case.updated"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]).is_valid(body)
    # a monitoring event's data has no client_id: the webhook adds the event's
    row = DomainEventRow(id=8, event_id="e-2", type="call.monitor_started",
                         occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
                         call_id="c-1", case_id=None, agent_id=None, client_id="bank-a", team=None,
                         payload={"session_id": "m-1", "call_id": "c-1", "supervisor_id": "sue", "mode": "listen",
                                  "state": "ringing", "end_reason": None})
    body = json.loads(event_body(row))
    assert body["data"]["client_id"] == "bank-a"
    schema = spec["webhooks"]["call.monitor_started"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert _validator(spec, schema).is_valid(body), list(_validator(spec, schema).iter_errors(body))
    live = event_to_json(row)
    assert _validator(spec, {"$ref": "#/components/schemas/EventOut"}).is_valid(live)
    assert _validator(spec, {"$ref": "#/components/schemas/Event.call.monitor_started"}).is_valid(live)


async def test_each_event_type_in_the_document_has_its_own_data_schema(api: Api) -> None:
    spec = await _spec(api)
    components = spec["components"]["schemas"]
    mapping = components["EventStreamMessage"]["discriminator"]["mapping"]
    assert set(spec["webhooks"]) == set(event_types()) == set(mapping) - {"hello"}
    for t, model in event_data().items():
        data = components[f"Event.{t}"]["allOf"][1]["properties"]["data"]
        assert data["unevaluatedProperties"] is False
        name = data["allOf"][0]["$ref"].rsplit("/", 1)[-1]
        assert name == model.__name__ and ("properties" in components[name] or "oneOf" in components[name]), t
        hook = spec["webhooks"][t]["post"]["requestBody"]["content"]["application/json"]["schema"]["allOf"][1]
        assert hook["properties"]["data"]["allOf"][0] == data["allOf"][0], t


async def test_docs_without_a_build_say_how_to_build_them(tmp_path: Path) -> None:
    app = web.Application(middlewares=[errors_middleware])
    add_docs_routes(app, tmp_path / "missing")
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/docs")
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "docs-not-built"
    built = tmp_path / "docs"
    built.mkdir()
    (built / "index.html").write_text("<!doctype html><title>x</title>")
    (built / "app.js").write_text("1")
    app = web.Application(middlewares=[errors_middleware])
    add_docs_routes(app, built)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/docs")
        assert r.status == 200 and "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert (await client.get("/docs/app.js")).headers["Content-Type"].startswith("text/javascript")
        assert (await client.get("/docs/..%2Fsecret")).status == 404


async def test_a_transfer_names_a_user_or_an_outside_number_and_its_answers_say_which(api: Api) -> None:
    spec = await _spec(api)
    body = spec["paths"]["/v1/calls/{call_id}/transfer"]["post"]["requestBody"]["content"]["application/json"]
    schemas = spec["components"]["schemas"]
    request = schemas[body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"target", "number", "mode"} <= set(request["properties"]) and "required" not in request
    assert "compliance gate" in json.dumps(request["properties"]["number"])
    assert {e.get("number") for e in request["examples"]} >= {None, "+8613800000101"}
    assert {"decision_id", "target_role"} <= set(schemas["TransferOut"]["properties"])
    assert {"user", "number"} <= set(schemas["LegOut"]["properties"])
    # a transfer to a number, as the service answers it, is what the document says
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001", "case_id": "case-1"},
                              headers=api.auth("alice"))
    call_id = (await r.json())["id"]
    await api.container.calls.apply(FactUpdate(call_id, "test", {
        "agent_channel": "PJSIP/1001-00000001", "customer_channel": "PJSIP/customers-00000002",
        "agent_answered_at": datetime.now(UTC), "answered_at": datetime.now(UTC)}))
    r = await api.client.post(f"/v1/calls/{call_id}/transfer", json={"number": "+8613800000101"},
                              headers=api.auth("alice"))
    assert r.status == 202, await r.text()
    errors = list(_validator(spec, {"$ref": "#/components/schemas/TransferOut"}).iter_errors(await r.json()))
    assert not errors, errors[0].message
    legs = await (await api.client.get(f"/v1/calls/{call_id}/legs", headers=api.auth("alice"))).json()
    errors = list(_validator(spec, {"$ref": "#/components/schemas/LegsOut"}).iter_errors(legs))
    assert not errors, errors[0].message
