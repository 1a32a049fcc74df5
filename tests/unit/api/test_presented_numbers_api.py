"""The presented-numbers API: roles, validation, 404, the OpenAPI document, and what a call then presents."""

from __future__ import annotations

from openapi_spec_validator import validate
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from dialer.gate import DialRequest, GateDecision
from tests.support.doubles import AllowAllGate
from tests.unit.api.conftest import Api
from tests.unit.api.test_calls_api import assert_error

PATH = "/v1/clients/bank1/presented-numbers"
SHANGHAI, BEIJING = "+862161234567", "+861062345678"


class _CaseOfClient(AllowAllGate):
    """Allows every dial; a dial with a case belongs to ``bank1`` (as the case directory would say)."""

    async def check(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        self.requests.append(request)
        return GateDecision(allowed=True, decision_id=new_id(), client_id="bank1" if request.case_id else None)


async def test_admin_sets_and_everyone_who_oversees_reads(api: Api) -> None:
    r = await api.client.put(PATH, json={"numbers": [SHANGHAI, BEIJING]}, headers=api.auth("ada"))
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["client_id"], body["numbers"], body["primary"], body["updated_by"]) == (
        "bank1", [SHANGHAI, BEIJING], SHANGHAI, "ada")
    for reader in ("ada", "sam", "mia"):
        r = await api.client.get(PATH, headers=api.auth(reader))
        assert r.status == 200 and (await r.json())["numbers"] == [SHANGHAI, BEIJING], reader
    # a replacement replaces, in its order
    r = await api.client.put(PATH, json={"numbers": [BEIJING]}, headers=api.auth("ada"))
    assert (await r.json())["primary"] == BEIJING
    assert (await (await api.client.get(PATH, headers=api.auth("sam"))).json())["numbers"] == [BEIJING]


async def test_only_admins_write_and_agents_and_qa_do_not_read(api: Api) -> None:
    for user in ("alice", "sam", "mia", "quinn"):
        r = await api.client.put(PATH, json={"numbers": [SHANGHAI]}, headers=api.auth(user))
        assert r.status == 403, user
        assert_error(await r.json(), "forbidden")
    for user in ("alice", "quinn"):
        assert (await api.client.get(PATH, headers=api.auth(user))).status == 403, user
    assert (await api.client.get(PATH)).status == 401


async def test_a_client_without_numbers_is_404_and_an_empty_list_removes_them(api: Api) -> None:
    r = await api.client.get(PATH, headers=api.auth("ada"))
    assert r.status == 404
    assert_error(await r.json(), "no-presented-numbers")
    await api.client.put(PATH, json={"numbers": [SHANGHAI]}, headers=api.auth("ada"))
    r = await api.client.put(PATH, json={"numbers": []}, headers=api.auth("ada"))
    assert r.status == 200 and (await r.json())["primary"] is None
    assert (await api.client.get(PATH, headers=api.auth("ada"))).status == 404
    # a client id that cannot be one does not match the route at all
    assert (await api.client.get("/v1/clients/-x/presented-numbers", headers=api.auth("ada"))).status == 404


async def test_invalid_numbers_are_422_and_change_nothing(api: Api) -> None:
    await api.client.put(PATH, json={"numbers": [SHANGHAI]}, headers=api.auth("ada"))
    for numbers in (["021 6123 4567"], [SHANGHAI, "+86216123456,X=1"], [SHANGHAI, SHANGHAI], ["+999123456789"]):
        r = await api.client.put(PATH, json={"numbers": numbers}, headers=api.auth("ada"))
        assert r.status == 422, numbers
        assert_error(await r.json(), "invalid-presented-number")
    for bad_body in ({"numbers": "+862161234567"}, {"numbers": [SHANGHAI], "extra": 1}, {},
                     {"numbers": [f"+8621612345{i:02d}" for i in range(21)]}):
        r = await api.client.put(PATH, json=bad_body, headers=api.auth("ada"))
        assert r.status == 422, bad_body
        assert_error(await r.json(), "validation-failed")
    assert (await (await api.client.get(PATH, headers=api.auth("ada"))).json())["numbers"] == [SHANGHAI]


async def test_a_call_of_the_clients_case_presents_its_primary_and_records_it(api: Api) -> None:
    api.container.calls.gate = _CaseOfClient()
    await api.client.put(PATH, json={"numbers": [SHANGHAI, BEIJING]}, headers=api.auth("ada"))
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001", "case_id": "case-1"},
                              headers=api.auth("alice"))
    assert r.status == 202, await r.text()
    call = await r.json()
    assert call["presented_number"] == SHANGHAI
    assert api.pbx.actions[-1][1]["presented"] == SHANGHAI
    got = await (await api.client.get(f"/v1/calls/{call['id']}", headers=api.auth("ada"))).json()
    assert got["presented_number"] == SHANGHAI
    # no case, no client: the PBX default
    r = await api.client.post("/v1/calls", json={"agent": "alice", "number": "+8613800000001"},
                              headers=api.auth("alice"))
    assert (await r.json())["presented_number"] is None and api.pbx.actions[-1][1]["presented"] is None


async def test_openapi_documents_presented_numbers(api: Api) -> None:
    spec = await (await api.client.get("/v1/openapi.json")).json()
    validate(spec)
    path = spec["paths"]["/v1/clients/{client_id}/presented-numbers"]
    assert set(path) >= {"get", "put"}
    assert {"403", "404"} <= set(path["get"]["responses"]) and "422" in path["put"]["responses"]
    assert "presented_number" in spec["components"]["schemas"]["CallOut"]["properties"]
