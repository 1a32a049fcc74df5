"""Supervisor monitoring through the HTTP API, on SQLite and PostgreSQL: who may, what reaches the PBX (a real
``PbxGateway`` over an AMI double that records actions; a fault is injected by telling it the PBX is down), the
session's state from its leg's facts, the audit trail and the call's ``call.monitor_*`` steps and their walls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from api.app import make_app
from app.compose import build_container
from app.container import Container
from audit.models import AuditEntry
from auth.models import Role
from auth.scope import Scope
from auth.service import Principal, create_user, issue_token
from auth.stream import sees_event
from config.settings import load_settings
from core.clock import FakeClock
from core.events import EventLog, event_to_json
from core.models import DomainEventRow
from core.stream import EventStream
from core.tasks import TaskGroup
from db.base import new_id
from db.engine import Database
from db.migrate import migrate
from dialer.ami import AmiConnectionLost, AmiNotConnected
from dialer.models import Call
from dialer.pbx import PbxGateway
from dialer.translate import FactUpdate, MonitorLegUpdate
from tests.support.doubles import AllowAllGate

CHANNEL = "PJSIP/1001-0000002a"
NOW = datetime.now(UTC)
USERS = [  # id, role, team, clients, phone
    ("ana", Role.AGENT, "t1", ("bank1",), "1001"),
    ("sam", Role.SUPERVISOR, "t1", ("bank1",), "2001"),
    ("tom", Role.SUPERVISOR, "t2", ("bank1",), "2002"),
    ("mia", Role.MANAGER, None, ("bank1",), "2003"),
    ("mo", Role.MANAGER, None, ("bank1",), None),
    ("bsup", Role.SUPERVISOR, "t1", ("bank2",), "2004"),
    ("quinn", Role.QA, None, ("bank1",), None),
    ("ada", Role.ADMIN, None, (), "2005"),
    ("odd", Role.SUPERVISOR, "t1", ("bank1",), "2006,MONITOR_TARGET=PJSIP/9"),  # a phone no Originate may carry
]


class _Channel:
    """One ``CoreShowChannel`` item of the AMI double's channel list."""

    name = "CoreShowChannel"

    def __init__(self, uniqueid: str) -> None:
        self.uniqueid = uniqueid

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.uniqueid if key in ("Uniqueid", "Linkedid") else default

    def chan_variables(self) -> dict[str, str]:
        return {}  # an outbound call's legs: found by Uniqueid/Linkedid, no CALL_ID needed


class FakeAmi:
    """Records every action the gateway sends; ``down`` makes it answer as a disconnected client; ``live`` is the
    Uniqueids its ``CoreShowChannels`` lists."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, str]]]] = []
        self.down = False
        self.lose = False  # the connection drops after the action was written
        self.live: list[str] = []

    async def send_list_action(self, name: str, fields: Any = (), **_: Any) -> tuple[None, list[_Channel]]:
        assert name == "CoreShowChannels"
        return None, [_Channel(u) for u in self.live]

    async def send_action(self, name: str, fields: Any = (), **_: Any) -> None:
        if self.down:
            raise AmiNotConnected("AMI local is not connected")
        self.sent.append((name, list(fields)))
        if self.lose:
            raise AmiConnectionLost("AMI local connection lost")


@dataclass
class Rig:
    client: TestClient[Any, Any]
    container: Container
    ami: FakeAmi
    tokens: dict[str, str]
    clock: FakeClock
    calls: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    @staticmethod
    async def _answer(r: Any) -> tuple[int, dict[str, Any]]:
        """Status and body; an error's body is its ``error`` object (code, message, details)."""
        body: dict[str, Any] = await r.json()
        return r.status, body.get("error", body)

    async def post(self, user: str, call: str, body: Any) -> tuple[int, dict[str, Any]]:
        self.clock.advance(seconds=0.001)  # each request a moment after the last: their rows keep their order
        return await self._answer(await self.client.post(f"/v1/calls/{call}/monitor", json=body,
                                                         headers=self.auth(user)))

    async def patch(self, user: str, call: str, sid: str, body: Any) -> tuple[int, dict[str, Any]]:
        self.clock.advance(seconds=0.001)  # each request a moment after the last: their rows keep their order
        return await self._answer(await self.client.patch(f"/v1/calls/{call}/monitor/{sid}", json=body,
                                                          headers=self.auth(user)))

    async def delete(self, user: str, call: str, sid: str) -> tuple[int, dict[str, Any]]:
        self.clock.advance(seconds=0.001)  # each request a moment after the last: their rows keep their order
        return await self._answer(await self.client.delete(f"/v1/calls/{call}/monitor/{sid}",
                                                           headers=self.auth(user)))

    async def events(self) -> list[DomainEventRow]:
        async with self.container.db.read() as s:
            rows = await s.scalars(select(DomainEventRow).where(DomainEventRow.type.like("call.monitor_%"))
                                   .order_by(DomainEventRow.id))
            return list(rows.all())

    async def audit(self) -> list[AuditEntry]:
        async with self.container.db.read() as s:
            rows = await s.scalars(select(AuditEntry).where(AuditEntry.action.like("call.monitor_%"))
                                   .order_by(AuditEntry.at, AuditEntry.id))
            return list(rows.all())


def _call(key: str, **over: Any) -> Call:
    values: dict[str, Any] = dict(
        id=new_id(), agent_id="ana", team="t1", requested_by="ana", number="+8613800000001", client_id="bank1",
        pbx="local", sip_user="1001", state="answered", agent_channel=CHANNEL, created_at=NOW - timedelta(minutes=1),
        agent_answered_at=NOW - timedelta(seconds=50), answered_at=NOW - timedelta(seconds=40), facts={})
    values.update(over)
    return Call(**values)


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    settings = load_settings(None, database={"url": database_url},
                             pbx=[{"name": "local", "ami_host": "127.0.0.1", "ami_port": 5038, "ami_user": "u",
                                   "ami_secret": "s"}])
    async with Database(settings.database) as db, TaskGroup() as tasks:
        await migrate(db)
        tokens, calls = {}, {}
        async with db.begin() as s:
            for uid, role, team, clients, sip in USERS:
                await create_user(s, user_id=uid, role=role, sip_user=sip, team=team, clients=clients)
                tokens[uid] = await issue_token(s, user_id=uid)
            for key, call in {
                "live": _call("live"), "other_team": _call("other_team", team="t2"),
                "bank2": _call("bank2", client_id="bank2", agent_id="ana"),
                "ended": _call("ended", state="ended", ended_at=NOW), "no_client": _call("no_client", client_id=None),
                "ringing": _call("ringing", state="agent_ringing", agent_channel=None, answered_at=None),
                "forged": _call("forged", agent_channel="PJSIP/1001-0000002a,MONITOR_CALL_ID=x"),
            }.items():
                s.add(call)
                calls[key] = call.id
        ami = FakeAmi()
        pbx = PbxGateway({"local": ami}, settings.pbx)  # type: ignore[dict-item]
        events = EventLog()
        clock = FakeClock(NOW)
        container = build_container(settings=settings, clock=clock, db=db, events=events, stream=EventStream(db),
                                    tasks=tasks, pbx=pbx, gate=AllowAllGate("bank1"))
        client = TestClient(TestServer(make_app(container)))
        await client.start_server()
        try:
            yield Rig(client, container, ami, tokens, clock, calls)
        finally:
            await client.close()


async def test_a_supervisor_of_the_team_rings_its_own_phone_joined_to_the_agent_leg_of_the_record(rig: Rig) -> None:
    call = rig.calls["live"]
    status, body = await rig.post("sam", call, {"mode": "listen"})
    assert status == 202, body
    assert (body["call_id"], body["supervisor"], body["mode"], body["state"]) == (call, "sam", "listen", "ringing")
    [(name, fields)] = rig.ami.sent
    assert name == "Originate"
    assert fields == [("Channel", "PJSIP/2001"), ("Context", "callguard-monitor"), ("Exten", "listen"),
                      ("Priority", "1"), ("Async", "true"), ("Timeout", "30000"),
                      ("ChannelId", f"monitor-{body['id']}"), ("CallerID", '"Callguard monitor" <monitor>'),
                      ("Variable", f"MONITOR_TARGET={CHANNEL}"), ("Variable", f"MONITOR_CALL_ID={call}")]
    [started] = await rig.events()
    assert (started.type, started.call_id, started.client_id, started.team, started.agent_id) == (
        "call.monitor_started", call, "bank1", "t1", None)
    assert started.payload["session_id"] == body["id"] and started.payload["mode"] == "listen"
    [entry] = await rig.audit()
    assert (entry.action, entry.actor_id, entry.target_id, entry.client_id) == ("call.monitor_started", "sam", call,
                                                                               "bank1")
    assert entry.after == {"session_id": body["id"], "supervisor_id": "sam", "mode": "listen"}
    # a manager of the client may too; the list shows both sessions
    status, other = await rig.post("mia", call, {"mode": "barge"})
    assert status == 202 and other["mode"] == "barge"
    r = await rig.client.get(f"/v1/calls/{call}/monitor", headers=rig.auth("sam"))
    assert [s["supervisor"] for s in (await r.json())["items"]] == ["sam", "mia"]


async def test_agents_qa_and_admins_are_refused_and_other_walls_answer_like_a_missing_call(rig: Rig) -> None:
    live = rig.calls["live"]
    for user in ("ana", "quinn", "ada"):
        status, body = await rig.post(user, live, {"mode": "listen"})
        assert (status, body["code"]) == (403, "forbidden"), user
    missing_status, missing = await rig.post("sam", new_id(), {"mode": "listen"})
    assert (missing_status, missing["code"]) == (404, "no-such-call")
    for user, key in (("bsup", "live"), ("tom", "live"), ("sam", "other_team"), ("sam", "bank2"),
                      ("sam", "no_client"), ("mia", "bank2")):
        status, body = await rig.post(user, rig.calls[key], {"mode": "listen"})
        assert (status, body["code"]) == (404, "no-such-call"), (user, key)
        r = await rig.client.get(f"/v1/calls/{rig.calls[key]}/monitor", headers=rig.auth(user))
        assert r.status == 404, (user, key)
    assert rig.ami.sent == [] and await rig.events() == [] and await rig.audit() == []


async def test_bad_requests_change_nothing(rig: Rig) -> None:
    live = rig.calls["live"]
    cases = [("sam", "ended", {"mode": "listen"}, 409, "call-ended"),
             ("sam", "ringing", {"mode": "listen"}, 409, "call-not-live"),
             ("sam", "forged", {"mode": "listen"}, 409, "call-not-live"),  # a channel not of its form never leaves
             ("mo", "live", {"mode": "listen"}, 422, "monitor-no-phone"),
             ("sam", "live", {"mode": "spy"}, 422, "validation-failed"),
             ("sam", "live", {"mode": "listen", "target": "PJSIP/9999-00000001"}, 422, "validation-failed"),
             ("sam", "live", {}, 422, "validation-failed")]
    for user, key, body, status, code in cases:
        got, answer = await rig.post(user, rig.calls[key], body)
        assert (got, answer["code"]) == (status, code), (user, key, body, answer)
    assert rig.ami.sent == [] and await rig.events() == []
    status, first = await rig.post("sam", live, {"mode": "listen"})
    assert status == 202
    status, again = await rig.post("sam", live, {"mode": "whisper"})
    assert (status, again["code"], again["details"]["session_id"]) == (409, "monitor-already-open", first["id"])
    assert len(rig.ami.sent) == 1


async def test_the_session_follows_its_leg_and_changes_mode_by_redirect(rig: Rig) -> None:
    call = rig.calls["live"]
    _, body = await rig.post("sam", call, {"mode": "listen"})
    sid = body["id"]
    status, early = await rig.patch("sam", call, sid, {"mode": "whisper"})  # not answered yet
    assert (status, early["code"]) == (409, "monitor-not-active")
    monitor = rig.container.monitor
    await monitor.apply(MonitorLegUpdate(sid, "Newchannel", channel="PJSIP/2001-00000007"))
    await monitor.apply(MonitorLegUpdate(sid, "Newstate", channel="PJSIP/2001-00000007", answered_at=NOW))
    await monitor.apply(MonitorLegUpdate(sid, "OriginateResponse", answered_at=NOW + timedelta(seconds=1)))
    status, same = await rig.patch("sam", call, sid, {"mode": "listen"})  # the same mode: nothing happens
    assert (status, same["state"], same["mode_changes"]) == (200, "active", 0)
    for user in ("tom", "mia", "bsup"):  # only its owner changes a session's mode
        status, answer = await rig.patch(user, call, sid, {"mode": "barge"})
        assert status == 404 and answer["code"] in ("no-such-call", "no-such-monitor-session"), user
    status, whisper = await rig.patch("sam", call, sid, {"mode": "whisper"})
    assert (status, whisper["mode"], whisper["mode_changes"]) == (200, "whisper", 1)
    assert rig.ami.sent[-1] == ("Redirect", [("Channel", f"monitor-{sid}"), ("Context", "callguard-monitor"),
                                             ("Exten", "whisper"), ("Priority", "1")])
    steps = [(e.type, e.payload.get("mode"), e.payload.get("previous_mode")) for e in await rig.events()]
    assert steps == [("call.monitor_started", "listen", None), ("call.monitor_joined", "listen", None),
                     ("call.monitor_mode_changed", "whisper", "listen")]
    changed = (await rig.audit())[-1]
    assert (changed.action, changed.before, changed.after["mode"]) == ("call.monitor_mode_changed",
                                                                       {"mode": "listen"}, "whisper")
    # the PBX cannot be asked: 503, the mode stays
    rig.ami.down = True
    status, down = await rig.patch("sam", call, sid, {"mode": "barge"})
    assert (status, down["code"]) == (503, "pbx-unavailable")
    rig.ami.down = False
    r = await rig.client.get(f"/v1/calls/{call}/monitor", headers=rig.auth("sam"))
    assert (await r.json())["items"][0]["mode"] == "whisper"
    # ended through the API: recorded, then the leg is hung up; its Hangup later changes nothing
    status, ended = await rig.delete("sam", call, sid)
    assert (status, ended["state"], ended["end_reason"], ended["ended_by"]) == (200, "ended", "stopped", "sam")
    assert rig.ami.sent[-1] == ("Hangup", [("Channel", f"monitor-{sid}"), ("Cause", "16")])
    await monitor.apply(MonitorLegUpdate(sid, "Hangup", channel="PJSIP/2001-00000007", ended_at=NOW, cause=16))
    status, again = await rig.delete("sam", call, sid)
    assert (status, again["end_reason"]) == (200, "stopped")
    assert [e.type for e in await rig.events()][-1:] == ["call.monitor_ended"]
    assert [a.action for a in await rig.audit()] == ["call.monitor_started", "call.monitor_mode_changed",
                                                     "call.monitor_ended"]
    status, late = await rig.patch("sam", call, sid, {"mode": "barge"})
    assert (status, late["code"]) == (409, "monitor-not-active")


async def test_a_session_ends_with_its_phone_or_with_the_call(rig: Rig) -> None:
    call = rig.calls["live"]
    _, one = await rig.post("sam", call, {"mode": "listen"})
    _, two = await rig.post("mia", call, {"mode": "barge"})
    monitor = rig.container.monitor
    # sam's phone never answers (OriginateResponse Failure); mia's answers
    await monitor.apply(MonitorLegUpdate(one["id"], "OriginateResponse", ended_at=NOW))
    await monitor.apply(MonitorLegUpdate(two["id"], "Newstate", channel="PJSIP/2003-00000009", answered_at=NOW))
    # the call ends: its open sessions end with it, in the call's transaction
    await rig.container.calls.apply(FactUpdate(call, "Hangup", {"ended_at": NOW + timedelta(seconds=5),
                                                                "agent_cause": 16}))
    r = await rig.client.get(f"/v1/calls/{call}/monitor", headers=rig.auth("mia"))
    got = {s["supervisor"]: (s["state"], s["end_reason"]) for s in (await r.json())["items"]}
    assert got == {"sam": ("ended", "not_answered"), "mia": ("ended", "call_ended")}
    ends = [e for e in await rig.events() if e.type == "call.monitor_ended"]
    assert len(ends) == 2 and all(e.client_id == "bank1" and e.team == "t1" for e in ends)
    # nothing more to join
    _, three = await rig.post("sam", rig.calls["live"], {"mode": "listen"})
    assert three.get("code") == "call-ended"


async def test_a_pbx_that_cannot_be_asked_ends_the_session_as_failed(rig: Rig) -> None:
    rig.ami.down = True
    status, body = await rig.post("sam", rig.calls["live"], {"mode": "listen"})
    assert (status, body["code"]) == (503, "pbx-unavailable")
    r = await rig.client.get(f"/v1/calls/{rig.calls['live']}/monitor", headers=rig.auth("sam"))
    [session] = (await r.json())["items"]
    assert (session["state"], session["end_reason"]) == ("ended", "failed")
    assert [e.type for e in await rig.events()] == ["call.monitor_started", "call.monitor_ended"]


async def test_a_manager_may_end_a_supervisors_session_and_the_agent_never_sees_the_steps(rig: Rig) -> None:
    call = rig.calls["live"]
    _, body = await rig.post("sam", call, {"mode": "listen"})
    status, answer = await rig.delete("tom", call, body["id"])
    assert status == 404 and answer["code"] == "no-such-call"
    status, ended = await rig.delete("mia", call, body["id"])
    assert (status, ended["end_reason"], ended["ended_by"]) == (200, "stopped", "mia")
    events = [event_to_json(e) for e in await rig.events()]
    assert len(events) == 2

    def scope(uid: str, role: Role, team: str | None, clients: tuple[str, ...]) -> Scope:
        return Scope.of(Principal(user_id=uid, role=role, team=team, clients=frozenset(clients)))

    assert all(sees_event(scope("sam", Role.SUPERVISOR, "t1", ("bank1",)), e) for e in events)
    assert all(sees_event(scope("mia", Role.MANAGER, None, ("bank1",)), e) for e in events)
    assert not any(sees_event(scope("ana", Role.AGENT, "t1", ("bank1",)), e) for e in events)
    assert not any(sees_event(scope("tom", Role.SUPERVISOR, "t2", ("bank1",)), e) for e in events)
    assert not any(sees_event(scope("bsup", Role.SUPERVISOR, "t1", ("bank2",)), e) for e in events)


async def test_after_a_reconnect_sessions_whose_leg_the_pbx_no_longer_has_end_as_lost(rig: Rig) -> None:
    call = rig.calls["live"]
    _, kept = await rig.post("sam", call, {"mode": "listen"})
    _, lost = await rig.post("mia", call, {"mode": "whisper"})
    rig.ami.live = [call, f"monitor-{kept['id']}"]
    monitor = rig.container.monitor
    assert await monitor.reconcile("local") == 0  # a leg originated a moment ago may not be listed yet
    rig.clock.advance(seconds=10)
    assert await monitor.reconcile("local") == 1
    r = await rig.client.get(f"/v1/calls/{call}/monitor", headers=rig.auth("mia"))
    got = {s["id"]: (s["state"], s["end_reason"]) for s in (await r.json())["items"]}
    assert got == {kept["id"]: ("ringing", None), lost["id"]: ("ended", "lost")}
    assert (await rig.audit())[-1].actor_id == "system"


async def test_a_phone_not_of_its_form_is_never_rung_and_a_lost_connection_leaves_the_fate_to_the_pbx(
        rig: Rig) -> None:
    call = rig.calls["live"]
    status, body = await rig.post("odd", call, {"mode": "listen"})
    assert (status, body["code"]) == (422, "invalid-monitor-target")
    assert rig.ami.sent == []
    r = await rig.client.get(f"/v1/calls/{call}/monitor", headers=rig.auth("sam"))
    [odd] = (await r.json())["items"]
    assert (odd["supervisor"], odd["state"], odd["end_reason"]) == ("odd", "ended", "failed")
    # the connection drops after the Originate was written: it may have run, so the session stays ringing (its
    # leg's events, or the reconcile after the reconnect, tell) and nothing is sent again
    rig.ami.lose = True
    status, body = await rig.post("sam", call, {"mode": "listen"})
    assert (status, body["state"]) == (202, "ringing")
    assert [name for name, _ in rig.ami.sent] == ["Originate"]
