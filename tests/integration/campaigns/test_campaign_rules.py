"""Campaign rules on the real stack (Asterisk 22, pjsua2 phones), on SQLite and PostgreSQL:

- the gate in a campaign: a case of a CN-profile client whose debtor it is night for is skipped and scheduled for
  the window's opening, a held case is never dialled, and the client's other case is dialled;
- a callback set a minute ahead is dialled first once it is due, before cases that waited longer;
- a phone that unregisters takes its agent offline and gives back the agent's offer; registering again does not
  make the agent available until the agent says so.

Numbers ending in 0486 get a busy customer line (each call ends by itself), 0001 an answering one. The CN window is
08:00-21:00 in the callee's zone, taken from the number: the test picks, at the moment it runs, a zone where it is
night and one where it is day (among Shanghai, London, New York and Los Angeles one of each always is, ten minutes
clear of either edge).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from callbacks.models import Callback
from campaigns.models import CampaignEntry
from compliance.models import ComplianceDecision
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.stack import BACKENDS, Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
CN_BANK, BANK = "bank1", "e2e-bank"
WRAP_UP_S = 12  # long enough that a minute holds only a few of ana's campaign calls
PREVIEW_S = 0.3
#: zone -> a number pattern of that zone ({d}: a digit telling the cases apart, {tail}: the line's behaviour)
ZONES = {"Asia/Shanghai": "+861385{d}00{tail}", "Europe/London": "+4420794{d}{tail}",
         "America/New_York": "+120255{d}{tail}", "America/Los_Angeles": "+121355{d}{tail}"}


def zone_where(night: bool, now: datetime) -> str:
    """A zone where ``now`` is outside (``night``) or inside 08:00-21:00, ten minutes clear of both edges."""
    for zone in ZONES:
        local = now.astimezone(ZoneInfo(zone)).time()
        inside = time(8, 10) <= local <= time(20, 50)
        outside = local >= time(21, 10) or local <= time(7, 50)
        if (outside if night else inside):
            return zone
    raise AssertionError(f"no zone is {'night' if night else 'day'} at {now}")  # cannot happen (see the docstring)


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=BACKENDS)
async def stack(request: pytest.FixtureRequest, pbx: PbxSandbox, phones: PhonesProcess,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One service per backend: a 12 s wrap-up, a 0.3 s preview, ticks every 0.1 s."""
    async with service_stack(pbx, tmp_path_factory.mktemp(f"rules-{request.param}"), backend=request.param,
                             presence={"wrap_up_s": WRAP_UP_S, "sweep_interval_s": 0.1},
                             campaigns={"progressive_preview_s": PREVIEW_S, "tick_s": 0.1}) as s:
        await s.container.presence.sync_devices("local")  # the users came after the first sync
        yield s


async def req(stack: Stack, method: str, path: str, user: str, body: Any = None, status: int = 200) -> Any:
    r = await stack.client.request(method, path, json=body, headers=stack.auth(user))
    doc = await r.json() if r.status != 204 else None
    assert r.status == status, doc
    return doc


async def case(stack: Stack, client: str, external_id: str, number: str, agent: str, batch: str,
               days_overdue: int = 30) -> str:
    doc = await req(stack, "PUT", f"/v1/clients/{client}/cases/{external_id}", "casesys", {
        "debtor_name": "Qian Qi", "amount": "800.00", "currency": "CNY", "agent": agent, "team": "e2e",
        "batch": batch, "days_overdue": days_overdue, "contacts": [{"number": number, "kind": "mobile"}]},
        status=201)
    return str(doc["id"])


async def campaign(stack: Stack, client: str, batch: str, mode: str, *agents: str) -> str:
    doc = await req(stack, "POST", "/v1/campaigns", "sup", {"client_id": client, "name": batch, "mode": mode,
                                                            "batch_id": batch}, status=201)
    for agent in agents:
        await req(stack, "PUT", f"/v1/campaigns/{doc['id']}/agents/{agent}", agent, status=204)
    return str(doc["id"])


async def calls_of(stack: Stack, case_ids: set[str]) -> list[dict[str, Any]]:
    body = await req(stack, "GET", "/v1/calls?limit=500", "sup")
    return sorted((c for c in body["items"] if c["case_id"] in case_ids), key=lambda c: c["created_at"])


async def entries(stack: Stack, campaign_id: str) -> dict[str, CampaignEntry]:
    async with stack.container.db.read() as s:
        rows = (await s.scalars(select(CampaignEntry).where(CampaignEntry.campaign_id == campaign_id))).all()
    return {e.case_id: e for e in rows}


async def until(what: Any, within: float = 60.0) -> Any:
    """Poll ``what()`` until it answers something truthy (a wait, not a timing assertion)."""
    async with asyncio.timeout(within):
        while True:
            got = await what()
            if got:
                return got
            await asyncio.sleep(0.1)


async def agent_state(stack: Stack, agent: str) -> dict[str, Any]:
    return dict(await req(stack, "GET", f"/v1/agents/{agent}/state", "sup"))


async def available(stack: Stack, agent: str) -> None:
    await req(stack, "PUT", f"/v1/agents/{agent}/state", agent, {"state": "available"})
    await until(lambda: _is(stack, agent, "available"), within=WRAP_UP_S + 10)


async def _is(stack: Stack, agent: str, state: str, reason: str | None = None) -> bool:
    body = await agent_state(stack, agent)
    return bool(body["state"] == state and (reason is None or body["reason"] == reason))


async def test_a_cn_case_at_night_is_scheduled_and_a_held_case_never_dialled(stack: Stack) -> None:
    backend = stack.container.db.engine.dialect.name
    await req(stack, "PUT", f"/v1/compliance/policies/{CN_BANK}", "ada", {
        "jurisdiction": "CN", "reason": "the bank's cases are collected under CN rules"})
    now = datetime.now(UTC)
    night, day = zone_where(True, now), zone_where(False, now)
    batch = f"RULES-GATE-{backend}"
    at_night = await case(stack, CN_BANK, f"GATE-NIGHT-{backend}", ZONES[night].format(d=1, tail="0486"), "ana",
                          batch, days_overdue=90)  # the most overdue: first in the campaign's order
    held = await case(stack, CN_BANK, f"GATE-HELD-{backend}", ZONES[day].format(d=2, tail="0001"), "ana", batch,
                      days_overdue=80)
    by_day = await case(stack, CN_BANK, f"GATE-DAY-{backend}", ZONES[day].format(d=3, tail="0486"), "ana", batch,
                        days_overdue=10)
    campaign_id = await campaign(stack, CN_BANK, batch, "progressive", "ana")
    # the dispute comes in after the campaign took the case (a case held before is not taken at all)
    await req(stack, "POST", f"/v1/cases/{held}/holds", "casesys", {"reason": "dispute", "note": "disputed"},
              status=201)
    await available(stack, "ana")
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/start", "sup")
    mine = {at_night, held, by_day}

    [call] = await until(lambda: _ended(stack, mine, 1))
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/stop", "sup")
    assert call["case_id"] == by_day and call["decision_id"], call  # the day case, with its gate decision
    assert [c["case_id"] for c in await calls_of(stack, mine)] == [by_day]  # nothing else was ever dialled

    rows = await entries(stack, campaign_id)
    night_entry, held_entry = rows[at_night], rows[held]
    assert (night_entry.state, night_entry.last_result, night_entry.attempts) == ("pending", "outside-calling-hours",
                                                                                  0)
    local_next = night_entry.next_at.astimezone(ZoneInfo(night))
    assert night_entry.next_at > now and local_next.time() == time(8, 0), local_next  # the window's opening there
    assert held_entry.last_result == "case-on-hold" and held_entry.attempts == 0
    assert held_entry.state == "blocked"  # a legal hold: no time at which it may be dialled
    async with stack.container.db.read() as s:
        checks = (await s.scalars(select(ComplianceDecision).where(
            ComplianceDecision.case_id.in_([at_night, held]), ComplianceDecision.kind == "check"))).all()
    # each skip is the gate's own dry run, logged and explained, never counted as an attempt
    assert {(d.case_id, d.allowed, d.code) for d in checks} >= {(at_night, False, "outside-calling-hours"),
                                                                (held, False, "case-on-hold")}


async def _ended(stack: Stack, case_ids: set[str], n: int) -> list[dict[str, Any]] | None:
    calls = await calls_of(stack, case_ids)
    return calls if len(calls) >= n and all(c["state"] == "ended" for c in calls[:n]) else None


async def test_a_callback_a_minute_ahead_is_dialled_first_once_due(stack: Stack) -> None:
    backend = stack.container.db.engine.dialect.name
    batch = f"RULES-CALLBACK-{backend}"
    # the callback's case, the least overdue: without its callback it would come last (it was called already)
    later = await case(stack, BANK, f"CB-LATER-{backend}", "+8613866000001", "ana", batch, days_overdue=1)
    others = {await case(stack, BANK, f"CB-{n}-{backend}", f"+861386{n}000486", "ana", batch,
                         days_overdue=60 - n) for n in range(1, 9)}
    await available(stack, "ana")
    call = await stack.dial("ana", "+8613866000001", case_id=later)
    await stack.wait_state(call["id"], "answered")
    await req(stack, "POST", f"/v1/calls/{call['id']}/hangup", "ana", status=202)
    await stack.wait_state(call["id"], "ended")
    due = (datetime.now(UTC) + timedelta(minutes=1)).replace(microsecond=0)
    await req(stack, "POST", f"/v1/calls/{call['id']}/disposition", "ana", {
        "outcome": "callback_requested", "callback_at": due.isoformat()}, status=201)  # ends ana's wrap-up
    [callback] = [cb for cb in (await req(stack, "GET", "/v1/callbacks", "ana"))["items"] if cb["case_id"] == later]
    assert (callback["state"], datetime.fromisoformat(callback["due_at"])) == ("scheduled", due)

    campaign_id = await campaign(stack, BANK, batch, "progressive", "ana")
    await available(stack, "ana")
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/start", "sup")
    mine = others | {later}
    calls = await until(lambda: _dialled(stack, mine, later), within=150)
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/stop", "sup")
    callback_call = [c for c in calls if c["case_id"] == later][-1]["id"]  # answered: ana talks, hangs up
    await stack.wait_state(callback_call, "answered")
    await req(stack, "POST", f"/v1/calls/{callback_call}/hangup", "ana", status=202)
    await stack.wait_state(callback_call, "ended")

    campaign_calls = [c for c in calls if c["id"] != call["id"]]
    first = next(i for i, c in enumerate(campaign_calls) if c["case_id"] == later)
    before = campaign_calls[:first]
    assert before and all(c["case_id"] in others for c in before)  # the other cases went first while not due...
    # ...each offered before the callback was due (its call follows its offer by the preview)...
    slack = timedelta(seconds=PREVIEW_S + 1.0)
    assert all(datetime.fromisoformat(c["created_at"]) < due + slack for c in before), (due, before)
    assert datetime.fromisoformat(campaign_calls[first]["created_at"]) >= due
    # ...and once due, the callback's case came before the cases still waiting
    assert len({c["case_id"] for c in before}) < len(others), before
    assert campaign_calls[first]["id"] == callback_call
    assert await until(lambda: _callback_done(stack, later), within=10)  # a call that reached the customer did it


async def _dialled(stack: Stack, case_ids: set[str], case_id: str) -> list[dict[str, Any]] | None:
    calls = await calls_of(stack, case_ids)
    return calls if sum(1 for c in calls if c["case_id"] == case_id) >= 2 else None


async def _callback_done(stack: Stack, case_id: str) -> bool:
    async with stack.container.db.read() as s:
        cb = (await s.scalars(select(Callback).where(Callback.case_id == case_id))).first()
    return cb is not None and cb.state == "done" and cb.done_at is not None


async def test_an_unregistered_phone_gives_back_its_agent_s_offer_until_the_agent_is_back(
        stack: Stack, phones: PhonesProcess) -> None:
    backend = stack.container.db.engine.dialect.name
    batch = f"RULES-PRESENCE-{backend}"
    await case(stack, BANK, f"PR-1-{backend}", "+8613877000486", "pete", batch)
    campaign_id = await campaign(stack, BANK, batch, "preview", "pete")
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/start", "sup")
    assert (await agent_state(stack, "pete"))["state"] == "available"
    offer = (await req(stack, "GET", "/v1/agents/pete/next", "pete"))["offer"]
    progress = (await req(stack, "GET", f"/v1/campaigns/{campaign_id}", "sup"))["progress"]
    assert offer is not None and progress["offered"] == 1, (offer, progress)
    try:
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "offline"})
        await until(lambda: _is(stack, "pete", "offline", "phone_unregistered"), within=20)
        progress = (await req(stack, "GET", f"/v1/campaigns/{campaign_id}", "sup"))["progress"]
        assert progress["offered"] == 0  # given back in the same transaction as the state change
        refused = await req(stack, "GET", "/v1/agents/pete/next", "pete", status=409)
        assert refused["error"]["code"] == "agent-not-available"

        mark = phones.mark()
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "answer"})
        await phones.wait_for("registered", user="1005", since=mark)
        back = await until(lambda: _is(stack, "pete", "offline", "logged_out"), within=20)
        assert back  # registered again, yet offline until pete says so
        refused = await req(stack, "GET", "/v1/agents/pete/next", "pete", status=409)
        assert refused["error"]["code"] == "agent-not-available"
    finally:
        await phones.send({"cmd": "set_behaviour", "phone": "1005", "behaviour": "answer"})
    await req(stack, "PUT", "/v1/agents/pete/state", "pete", {"state": "available"})
    again = (await req(stack, "GET", "/v1/agents/pete/next", "pete"))["offer"]
    assert again is not None and again["case_id"] == offer["case_id"]
    await req(stack, "POST", f"/v1/campaigns/{campaign_id}/stop", "sup")
