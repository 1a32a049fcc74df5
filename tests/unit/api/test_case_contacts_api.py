"""An agent reads the contact history of the case assigned to it, with every agent's attempts, and may hear
only its own calls' recordings; another agent's case, a case reassigned away and another bank's case answer
404. Each read is audited. On SQLite and PostgreSQL, through the composed service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from auth.models import Role
from auth.service import create_user, issue_token
from cases.models import ContactLog
from recordings.models import Recording
from tests.support.composed import Composed, composed

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


async def _case(c: Composed, user: str, client: str, ext: str, agent: str) -> str:
    r = await c.client.put(f"/v1/clients/{client}/cases/{ext}", headers=c.auth(user), json={
        "debtor_name": "张三", "amount": "100", "currency": "CNY", "timezone": "Asia/Shanghai", "agent": agent,
        "team": "t1", "contacts": [{"number": "+8613800138001", "kind": "mobile"}]})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _attempt(c: Composed, case_id: str, agent: str, client: str, minutes: int) -> str:
    """A contact-log row of ``agent``'s answered call with its stored recording; the recording's id."""
    call_id = f"call-{agent}-{minutes}"
    rec_id = f"rec-{agent}-{minutes}"
    async with c.container.db.begin() as s:
        s.add(ContactLog(call_id=call_id, case_id=case_id, at=AT + timedelta(minutes=minutes), agent_id=agent,
                         number="+8613800138001", number_kind="mobile", connected=True, talk_seconds=42.0,
                         outcome="promise_to_pay", recording_id=rec_id, recording_sha256="ab" * 32))
        s.add(Recording(id=rec_id, call_id=call_id, state="stored", case_id=case_id, agent_id=agent, team="t1",
                        client_id=client, started_at=AT + timedelta(minutes=minutes)))
    return rec_id


@pytest.fixture
async def svc(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Composed, dict[str, str]]]:
    async with composed(tmp_path, database_url) as c:
        async with c.container.db.begin() as s:
            for uid, clients, sip in (("andy", ["bank1"], "1002"), ("bert", ["bank2"], "1003"),
                                      ("casys-b", ["bank2"], None)):
                role = Role.AGENT if sip else Role.INTEGRATION
                await create_user(s, user_id=uid, role=role, team="t1", clients=clients, sip_user=sip)
                c.tokens[uid] = await issue_token(s, user_id=uid)
        ids = {"mine": await _case(c, "casesys", "bank1", "A-1", "alice"),
               "andys": await _case(c, "casesys", "bank1", "A-2", "andy"),
               "bank2": await _case(c, "casys-b", "bank2", "B-1", "bert")}
        # alice's case: andy called it first (before it was hers), then alice
        ids["andy_rec"] = await _attempt(c, ids["mine"], "andy", "bank1", 0)
        ids["alice_rec"] = await _attempt(c, ids["mine"], "alice", "bank1", 10)
        await _attempt(c, ids["bank2"], "bert", "bank2", 5)
        yield c, ids


async def _get(c: Composed, user: str, path: str) -> tuple[int, Any]:
    r = await c.client.get(path, headers=c.auth(user))
    return r.status, await r.json()


async def test_an_agent_reads_its_cases_history_with_every_attempt_and_hears_only_its_own_calls(
        svc: tuple[Composed, dict[str, str]]) -> None:
    c, ids = svc
    status, doc = await _get(c, "alice", f"/v1/cases/{ids['mine']}/contacts")
    assert status == 200, doc
    assert [(i["agent_id"], i["recording_id"]) for i in doc["items"]] == [
        ("andy", ids["andy_rec"]), ("alice", ids["alice_rec"])]
    # the recordings rule decides what it hears: its own call's, not the earlier agent's (out of its scope)
    status, rec = await _get(c, "alice", f"/v1/recordings/{ids['alice_rec']}")
    assert status == 200 and rec["call_id"] == "call-alice-10", rec
    status, err = await _get(c, "alice", f"/v1/recordings/{ids['andy_rec']}")
    assert status == 404 and err["error"]["code"] == "no-such-recording", err
    async with c.container.db.read() as s:
        reads = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "case.contacts_read"))).all()
    assert [(e.actor_id, e.target_id) for e in reads] == [("alice", ids["mine"])]


async def test_an_agent_reads_nothing_of_another_agents_case_nor_of_another_bank(
        svc: tuple[Composed, dict[str, str]]) -> None:
    c, ids = svc
    for user, case in (("alice", "andys"), ("alice", "bank2"), ("andy", "mine"), ("bert", "mine")):
        status, err = await _get(c, user, f"/v1/cases/{ids[case]}/contacts")
        assert status == 404 and err["error"]["code"] == "no-such-case", (user, case, err)
        assert "call-" not in str(err)
    # bank1's supervisor reads alice's case, and nothing of bank2
    assert (await _get(c, "sam", f"/v1/cases/{ids['mine']}/contacts"))[0] == 200
    assert (await _get(c, "sam", f"/v1/cases/{ids['bank2']}/contacts"))[0] == 404


async def test_a_case_reassigned_away_takes_its_history_with_it(svc: tuple[Composed, dict[str, str]]) -> None:
    c, ids = svc
    r = await c.client.put(f"/v1/cases/{ids['mine']}/assignment", headers=c.auth("sam"),
                           json={"agent": "andy", "team": "t1"})
    assert r.status == 200, await r.text()
    status, err = await _get(c, "alice", f"/v1/cases/{ids['mine']}/contacts")
    assert status == 404 and err["error"]["code"] == "no-such-case", err
    status, doc = await _get(c, "andy", f"/v1/cases/{ids['mine']}/contacts")
    assert status == 200 and len(doc["items"]) == 2, doc
