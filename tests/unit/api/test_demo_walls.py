"""The demo (``make run``) shows the walls: two banks, each with its own manager, QA and case system; each of
them gets 404 for the other bank's cases and calls, exactly as for missing ones, and lists only its own."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from auth.models import User
from dialer.models import Call
from sandbox.run import DEMO_CASES, DEMO_USERS, STRICT_CLIENT, _demo_cases, _seed
from tests.unit.api.conftest import Api

BANK_PEOPLE = {"demo-bank": ("manager1", "qa1", "casesys"), STRICT_CLIENT: ("manager-cn", "qa-cn", "casesys-cn")}


async def test_each_banks_people_see_only_their_bank(api: Api) -> None:
    async with api.container.db.begin() as s:  # the fixture's agents free the demo's SIP accounts
        await s.execute(update(User).where(User.sip_user.is_not(None)).values(sip_user=User.id + "-sip"))
    users = {u["name"]: u for u in await _seed(api.container, {u[2]: "sip-secret" for u in DEMO_USERS if u[2]})}
    cases = await _demo_cases(api.container)
    client_of = {key: client for key, client, *_ in DEMO_CASES}
    async with api.container.db.begin() as s:  # one call per demo case, as its agent would have made
        for key, client, _ext, agent, numbers in DEMO_CASES:
            s.add(Call(id=f"call-{key}", agent_id=agent, team="team-a", requested_by=agent, number=numbers[0],
                       case_id=cases[key], client_id=client, pbx="local", sip_user="1001", state="ended",
                       created_at=datetime(2026, 12, 1, 2, tzinfo=UTC), facts={}))
    for bank, people in BANK_PEOPLE.items():
        for name in people:
            auth = {"Authorization": f"Bearer {users[name]['token']}"}
            assert users[name]["clients"] == [bank]
            listed = await (await api.client.get("/v1/cases", headers=auth)).json()
            assert {c["client_id"] for c in listed["items"]} == {bank}, name
            assert {c["id"] for c in listed["items"]} == {cases[k] for k, c in client_of.items() if c == bank}
            for key, client in client_of.items():
                case = await api.client.get(f"/v1/cases/{cases[key]}", headers=auth)
                call = await api.client.get(f"/v1/calls/call-{key}", headers=auth)
                if client == bank:
                    assert case.status == 200 and call.status == 200, (name, key)
                else:
                    assert case.status == 404 and call.status == 404, (name, key)
                    assert (await case.json())["error"]["code"] == "no-such-case"
            calls = await (await api.client.get("/v1/calls", headers=auth)).json()
            assert {c["client_id"] for c in calls["items"]} == {bank}, name
