"""The demo (``make run``) gives every person a console password that signs in; the case system none."""

from __future__ import annotations

from sqlalchemy import update

from auth.models import User
from sandbox.run import DEMO_USERS, _seed
from tests.unit.api.conftest import Api


async def test_every_demo_person_signs_in_with_the_printed_password(api: Api) -> None:
    async with api.container.db.begin() as s:  # the fixture's agents free the demo's SIP accounts
        await s.execute(update(User).where(User.sip_user.is_not(None)).values(sip_user=User.id + "-sip"))
    sips = {u[2]: "sip-secret" for u in DEMO_USERS if u[2]}
    users = await _seed(api.container, sips)
    people = [u for u in users if u["role"] != "integration"]
    assert people and all(len(u["password"]) >= 12 for u in people)
    assert [u for u in users if "password" not in u] == [u for u in users if u["role"] == "integration"]
    for u in people[:2]:
        r = await api.client.post("/v1/session", json={"username": u["name"], "password": u["password"]})
        assert r.status == 201, await r.text()
        api.client.session.cookie_jar.clear()
    r = await api.client.post("/v1/session", json={"username": "casesys", "password": "anything at all"})
    assert r.status == 401
