"""A transferred call in the reports and the contact log: talk time by leg, agent by agent; the connection
stays the call's and its placing agent's (SQLite and PostgreSQL).

The call is transferred through ``TransferService`` (a blind transfer, alice -> bob) and its legs move with
the PBX's leg facts, as in tests/unit/api/test_transfer_api.py; the call's own row is left as the dialer
leaves an ended call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.query import ReportQuery
from analytics.reports import run_report
from analytics.rollup import rebuild, refresh, register_zones
from auth.models import Role
from auth.service import Principal, create_user
from cases.contacts import record_contact
from cases.evidence import contacts
from cases.schemas import contact_json
from core.clock import FakeClock
from core.events import EventLog
from db.engine import Database
from dialer.models import Call, CallLeg
from dialer.transfers import TransferService
from dialer.translate import LegUpdate
from tests.support.doubles import AllowAllGate, RecordingPbx
from tests.unit.analytics.conftest import make_call
from tests.unit.analytics.test_sla import case

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))


async def _contact_when_leg_ended(session: AsyncSession, call: Call, _leg: CallLeg, step: str) -> None:
    """As app/compose.py wires it: a leg's end completes the call's contact-log row."""
    if step == "ended":
        await record_contact(session, call)


async def _transferred_call(db: Database, *, number: str | None = None) -> str:
    """alice's call on case k1, answered at T+10s; at T+70s she hands it to bob (blind), who answers at T+72s;
    the customer hangs up at T+172s. alice talked 60 s, bob 100 s; the call's own talk time is 162 s."""
    async with db.begin() as s:
        for uid, sip in (("alice", "1001"), ("bob", "1002")):
            await create_user(s, user_id=uid, role=Role.AGENT, sip_user=sip, team="t1", clients=("c1",))
        s.add(case("k1", T - timedelta(days=1)))
        call = make_call(T, agent="alice", end_reason=None, case_id="k1")
        call.state, call.answered_at, call.ring_seconds = "answered", T + timedelta(seconds=10), 4.0
        call.agent_channel, call.customer_channel = "PJSIP/1001-00000001", "PJSIP/customers-00000002"
        s.add(call)
        call_id = call.id
        # the same hour: alice and bob each place an ordinary call
        s.add_all([make_call(T + timedelta(minutes=5), agent="alice", talk=30.0, ring=2.0),
                   make_call(T + timedelta(minutes=6), agent="bob", talk=20.0, ring=6.0)])
    clock = FakeClock(T + timedelta(seconds=70))
    pbx = RecordingPbx()
    transfers = TransferService(db=db, events=EventLog(), pbx=pbx, clock=clock, gate=AllowAllGate("c1"),
                                default_region="CN")
    transfers.add_leg_listener(_contact_when_leg_ended)
    t = await transfers.request(Principal("alice", Role.AGENT, team="t1", clients=frozenset({"c1"})), call_id,
                                target=None if number else "bob", number=number)
    [(_action, sent)] = pbx.actions
    await transfers.apply_leg(LegUpdate(call_id, None, t.id, "Hangup",
                                        {"ended_at": T + timedelta(seconds=70), "cause": 16}))
    await transfers.apply_leg(LegUpdate(call_id, sent["target_leg"], None, "Newstate", {
        "channel": "PJSIP/1002-00000003", "answered_at": T + timedelta(seconds=72)}))
    await transfers.apply_leg(LegUpdate(call_id, sent["target_leg"], None, "Hangup", {
        "ended_at": T + timedelta(seconds=172), "cause": 16}))
    async with db.begin() as s:  # the call ends as the dialer ends it, and its contact-log row is written
        ended = await s.get(Call, call_id)
        assert ended is not None
        ended.state, ended.end_reason, ended.ended_at = "ended", "completed", T + timedelta(seconds=172)
        ended.talk_seconds = 162.0
        await record_contact(s, ended)
    return call_id


def _by(rows: list[dict[str, Any]], key: str, *cols: str) -> dict[Any, tuple[Any, ...]]:
    return {r[key]: tuple(r[c] for c in cols) for r in rows}


async def _reports(db: Database, **kw: Any) -> tuple[Any, Any]:
    async with db.read() as s:
        tt = await run_report(s, ReportQuery("talk-time", ("agent",), **kw))
        cr = await run_report(s, ReportQuery("connect-rate", ("agent",), **kw))
    return tt, cr


TALK = {"alice": (2, 2, 90.0, 45.0), "bob": (1, 1, 120.0, 60.0)}  # attempts, connected, talk_total, talk_mean
CONNECT = {"alice": (2, 2, 1.0), "bob": (1, 1, 1.0)}  # attempts, connected, connect_rate


async def test_each_agent_gets_the_talk_of_its_leg_and_the_call_is_connected_once(adb: Database) -> None:
    await _transferred_call(adb)
    window = {"start": T - timedelta(hours=1), "end": T + timedelta(hours=1)}
    for _source in ("raw calls (dirty hours)", "the hourly rollup"):
        tt, cr = await _reports(adb, **window)
        assert _by(tt.rows, "agent", "attempts", "connected", "talk_total", "talk_mean") == TALK
        assert (tt.totals["attempts"], tt.totals["connected"], tt.totals["talk_total"]) == (3, 3, 210.0)
        assert tt.totals["talk_mean"] == 52.5  # four conversations: alice twice, bob twice
        assert _by(cr.rows, "agent", "attempts", "connected", "connect_rate") == CONNECT
        await refresh(adb)
    # the same by team (one team: the legs' talk adds up to the call's and the ordinary calls')
    async with adb.read() as s:
        by_team = await run_report(s, ReportQuery("talk-time", ("team",), **window))
    assert _by(by_team.rows, "team", "connected", "talk_total") == {"t1": (3, 210.0)}
    # a filter on the target picks its leg only
    async with adb.read() as s:
        bob = await run_report(s, ReportQuery("talk-time", (), filters={"agent": ("bob",)},
                                              **window))
    assert (bob.totals["attempts"], bob.totals["connected"], bob.totals["talk_total"]) == (1, 1, 120.0)


async def test_the_daily_rollup_gives_the_same_talk_by_agent(adb: Database) -> None:
    await _transferred_call(adb)
    await register_zones(adb, ["UTC"])
    await rebuild(adb)
    tt, cr = await _reports(adb, start=DAY[0], end=DAY[1], tz=ZoneInfo("UTC"))
    assert _by(tt.rows, "agent", "attempts", "connected", "talk_total", "talk_mean") == TALK
    assert _by(cr.rows, "agent", "attempts", "connected", "connect_rate") == CONNECT


async def test_the_contact_log_names_who_talked_and_when(adb: Database) -> None:
    call_id = await _transferred_call(adb)
    async with adb.read() as s:
        _case, rows = await contacts(s, "k1")
    [row] = [contact_json(r) for r in rows]
    assert (row["call_id"], row["agent_id"], row["talk_seconds"]) == (call_id, "alice", 162.0)
    assert [(a["agent_id"], a["role"], a["answered_at"], a["ended_at"], a["talk_seconds"]) for a in row["agents"]] == [
        ("alice", "agent", T + timedelta(seconds=10), T + timedelta(seconds=70), 60.0),
        ("bob", "target", T + timedelta(seconds=72), T + timedelta(seconds=172), 100.0)]


# talk samples: alice's leg 60 s and her own call 30 s; bob's leg 100 s and his own call 20 s; the transferred
# call as a whole 162 s. Nearest rank: of two samples the median is the smaller, the p90 the larger.
PCT_BY_AGENT = {"alice": (30.0, 60.0), "bob": (20.0, 100.0)}
PCT_LEGS = (30.0, 100.0)  # 20, 30, 60, 100: the legs and the ordinary calls
PCT_CALLS = (30.0, 162.0)  # 20, 30, 162: one sample a call, the whole conversation


async def _percentiles(db: Database, **kw: Any) -> dict[str, Any]:
    """The talk percentiles of the reports that read talk by person and by call."""
    async with db.read() as s:
        agent = await run_report(s, ReportQuery("talk-time", ("agent",), **kw))
        team = await run_report(s, ReportQuery("talk-time", ("team",), **kw))
        bob = await run_report(s, ReportQuery("talk-time", (), filters={"agent": ("bob",)}, **kw))
        client = await run_report(s, ReportQuery("talk-time", ("client",), **kw))
        day = await run_report(s, ReportQuery("talk-time", ("day",), **kw))
        whole = await run_report(s, ReportQuery("talk-time", (), **kw))
    cols = ("talk_median", "talk_p90")
    return {"agent": _by(agent.rows, "agent", *cols), "agent_totals": tuple(agent.totals[c] for c in cols),
            "team": _by(team.rows, "team", *cols), "bob": tuple(bob.totals[c] for c in cols),
            "client": _by(client.rows, "client", *cols), "day": [tuple(r[c] for c in cols) for r in day.rows],
            "whole": tuple(whole.totals[c] for c in cols)}


EXPECTED_PCT = {"agent": PCT_BY_AGENT, "agent_totals": PCT_LEGS, "team": {"t1": PCT_LEGS}, "bob": (20.0, 100.0),
                "client": {"c1": PCT_CALLS}, "day": [PCT_CALLS], "whole": PCT_CALLS}


async def test_talk_percentiles_by_agent_are_each_agents_legs_and_by_client_whole_calls(adb: Database) -> None:
    await _transferred_call(adb)
    window = {"start": T - timedelta(hours=1), "end": T + timedelta(hours=1)}
    seen = []
    for _source in ("raw calls (dirty hours)", "the hourly rollup"):
        seen.append(await _percentiles(adb, **window))
        await refresh(adb)
    assert seen == [EXPECTED_PCT, EXPECTED_PCT]
    # a range ending inside the hour: the partial hour is read raw beside the rollup
    assert await _percentiles(adb, start=T - timedelta(hours=1), end=T + timedelta(minutes=30)) == EXPECTED_PCT


async def test_the_daily_rollup_gives_the_same_talk_percentiles(adb: Database) -> None:
    await _transferred_call(adb)
    await register_zones(adb, ["UTC"])
    await rebuild(adb)
    assert await _percentiles(adb, start=DAY[0], end=DAY[1], tz=ZoneInfo("UTC")) == EXPECTED_PCT
    # a day read partly from the daily rollup and partly from the hours after it
    assert await _percentiles(adb, start=DAY[0], end=DAY[1] + timedelta(hours=5), tz=ZoneInfo("UTC")) == EXPECTED_PCT


async def test_a_transfer_moves_the_percentiles_only_of_the_agents_who_talked(adb: Database) -> None:
    """Without the leg rows the same calls would give alice the whole 162 s call (the old per-call figures)."""
    await _transferred_call(adb)
    await refresh(adb)
    async with adb.begin() as s:  # carol, never transferred to, keeps her per-call figures
        s.add(make_call(T + timedelta(minutes=7), agent="carol", talk=45.0, ring=1.0))
    async with adb.read() as s:
        rep = await run_report(s, ReportQuery("talk-time", ("agent",), start=DAY[0], end=DAY[1]))
    assert _by(rep.rows, "agent", "talk_median", "talk_p90") == {**PCT_BY_AGENT, "carol": (45.0, 45.0)}


async def test_an_outside_partys_talk_is_no_agents(adb: Database) -> None:
    """The same call handed to an outside number (blind): alice keeps her 60 s, nobody gets the outside 100 s."""
    call_id = await _transferred_call(adb, number="+8613800000101")
    window = {"start": T - timedelta(hours=1), "end": T + timedelta(hours=1)}
    for _source in ("raw calls (dirty hours)", "the hourly rollup"):
        tt, cr = await _reports(adb, **window)
        assert _by(tt.rows, "agent", "attempts", "connected", "talk_total", "talk_mean") == {
            "alice": (2, 2, 90.0, 45.0), "bob": (1, 1, 20.0, 20.0)}
        assert (tt.totals["connected"], tt.totals["talk_total"]) == (3, 110.0)
        assert _by(cr.rows, "agent", "attempts", "connected") == {"alice": (2, 2), "bob": (1, 1)}
        # nor any talk sample: alice's are her 60 s leg and her own 30 s call, and no agent "" appears
        assert (await _percentiles(adb, **window))["agent"] == {"alice": (30.0, 60.0), "bob": (20.0, 20.0)}
        await refresh(adb)
    async with adb.read() as s:
        _case, rows = await contacts(s, "k1")
    [row] = [contact_json(r) for r in rows if r.call_id == call_id]
    assert [(a["agent_id"], a["number"], a["role"], a["talk_seconds"]) for a in row["agents"]] == [
        ("alice", None, "agent", 60.0), (None, "+8613800000101", "outside", 100.0)]
