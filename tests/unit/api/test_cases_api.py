"""The cases API: upsert is idempotent, validation names the field, limits and roles hold, holds are kept."""

from __future__ import annotations

from tests.unit.api.conftest import Api
from tests.unit.api.test_calls_api import assert_error

CASE = {"debtor_name": "Li Si", "amount": "3200.00", "currency": "CNY", "days_overdue": 61, "team": "t1",
        "contacts": [{"number": "+8613800000001", "kind": "mobile"}]}


async def test_put_case_twice_is_created_then_unchanged(api: Api) -> None:
    r = await api.client.put("/v1/clients/bank1/cases/A-1", json=CASE, headers=api.auth("ada"))
    body = await r.json()
    assert r.status == 201, body
    assert body["result"] == "created" and r.headers["Location"] == f"/v1/cases/{body['id']}"
    again = await api.client.put("/v1/clients/bank1/cases/A-1", json=CASE, headers=api.auth("ada"))
    assert again.status == 200 and (await again.json())["result"] == "unchanged"
    got = await api.client.get("/v1/clients/bank1/cases/A-1", headers=api.auth("sam"))
    assert (await got.json())["id"] == body["id"]


async def test_invalid_number_names_the_field_and_stores_nothing(api: Api) -> None:
    bad = {**CASE, "contacts": [{"number": "12", "kind": "mobile"}]}
    r = await api.client.put("/v1/clients/bank1/cases/B-1", json=bad, headers=api.auth("ada"))
    assert r.status == 422
    body = await r.json()
    assert_error(body, "validation-failed")
    assert any(e["field"].startswith("contacts") for e in body["error"]["details"]["errors"])
    assert (await api.client.get("/v1/clients/bank1/cases/B-1", headers=api.auth("ada"))).status == 404


async def test_agents_may_not_write_cases_and_oversize_is_413(api: Api) -> None:
    r = await api.client.put("/v1/clients/bank1/cases/C-1", json=CASE, headers=api.auth("alice"))
    assert r.status == 403
    huge = {**CASE, "address": "x" * 5000}  # the fixture limits bodies to 4096 bytes
    r = await api.client.put("/v1/clients/bank1/cases/C-1", json=huge, headers=api.auth("ada"))
    assert r.status == 413
    assert_error(await r.json(), "body-too-large")


async def test_bulk_import_keeps_good_items_and_reports_bad_ones(api: Api) -> None:
    items = [{**CASE, "external_id": f"D-{i}"} for i in range(20)]
    items[7] = {**items[7], "amount": "-5"}
    r = await api.client.post("/v1/clients/bank1/cases/bulk", json={"batch": "2026-11", "cases": items},
                              headers=api.auth("ada"))
    body = await r.json()
    assert r.status == 200, body
    assert body["counts"] == {"created": 19, "invalid": 1}
    bad = [x for x in body["results"] if x["result"] == "invalid"]
    assert bad[0]["index"] == 7 and bad[0]["errors"]
    r = await api.client.post("/v1/clients/bank1/cases/bulk", json={"batch": "2026-11", "cases": items},
                              headers=api.auth("ada"))
    assert (await r.json())["counts"] == {"unchanged": 19, "invalid": 1}


async def test_a_hold_is_recorded_on_the_case(api: Api) -> None:
    r = await api.client.put("/v1/clients/bank1/cases/E-1", json=CASE, headers=api.auth("ada"))
    case_id = (await r.json())["id"]
    r = await api.client.post(f"/v1/cases/{case_id}/holds", json={"reason": "dispute"}, headers=api.auth("sam"))
    assert r.status in (200, 201), await r.json()
    case = await (await api.client.get(f"/v1/cases/{case_id}", headers=api.auth("sam"))).json()
    assert case["status"] == "on_hold"
    assert [h["reason"] for h in case["holds"]] == ["dispute"]
