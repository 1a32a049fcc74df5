"""AmiClient against a scripted fake AMI server: matching, lists, listeners, hangs, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from dialer.ami import (
    AmiActionError,
    AmiClient,
    AmiConnectionLost,
    AmiInjectionError,
    AmiLoginError,
    AmiMessage,
    AmiNotConnected,
)
from dialer.ami.dispatch import Dispatcher

from .fake_ami import FakeAmi, FakeConn

FAST: dict[str, Any] = dict(
    ping_interval=0.05,
    pong_timeout=0.1,
    connect_timeout=1.0,
    reconnect_initial=0.01,
    reconnect_max=0.05,
    action_timeout=2.0,
)


def client(fake: FakeAmi, secret: str = "s3cret", **kw) -> AmiClient:
    return AmiClient("127.0.0.1", fake.port, "callguard", secret, **{**FAST, **kw})


async def test_login_and_state() -> None:
    async with FakeAmi() as fake, client(fake) as ami:
        assert await ami.wait_connected(2.0)
        login = next(a for a in fake.actions if a.get("Action") == "Login")
        assert login.get("Username") == "callguard"
        assert login.get("Events") == "on"
        st = ami.state()
        assert st["connected"] is True and st["since"] is not None and st["reconnects"] == 0
        assert ami.banner == "Asterisk Call Manager/9.0.0"
        assert "s3cret" not in repr(ami)


async def test_not_connected_raises_immediately() -> None:
    async with FakeAmi() as fake:
        ami = client(fake)
        with pytest.raises(AmiNotConnected):
            await ami.send_action("Ping")


async def test_bad_secret_never_connects() -> None:
    async with FakeAmi() as fake, client(fake, secret="wrong") as ami:
        await fake.wait_for(lambda: fake.logins >= 2)
        assert not ami.connected
        assert "AmiLoginError" in (ami.state()["last_error"] or "")
        assert AmiLoginError.__name__ in ami.state()["last_error"]


async def test_concurrent_actions_answered_out_of_order() -> None:
    held: list[tuple[FakeConn, AmiMessage]] = []

    def handler(conn: FakeConn, action: AmiMessage) -> None:
        held.append((conn, action))
        if len(held) == 3:
            for c, a in reversed(held):  # answer in reverse order
                c.reply(a, "Success", ("Value", a.get("Variable") or ""))

    async with FakeAmi(handler) as fake, client(fake) as ami:
        assert await ami.wait_connected(2.0)
        results = await asyncio.gather(
            *(ami.send_action("Getvar", [("Variable", v)]) for v in ("A", "B", "C"))
        )
        assert [r.get("Value") for r in results] == ["A", "B", "C"]
        ids = {a.action_id for _, a in held}
        assert len(ids) == 3


async def test_error_response_raises_action_error() -> None:
    def handler(conn: FakeConn, action: AmiMessage) -> None:
        conn.reply(action, "Error", ("Message", "No such channel"))

    async with FakeAmi(handler) as fake, client(fake) as ami:
        assert await ami.wait_connected(2.0)
        with pytest.raises(AmiActionError) as err:
            await ami.send_action("Hangup", {"Channel": "PJSIP/nope"})
        assert err.value.message == "No such channel"
        assert err.value.response.name == "Error"
        assert ami.connected


async def test_injection_refused_before_socket() -> None:
    async with FakeAmi() as fake, client(fake) as ami:
        assert await ami.wait_connected(2.0)
        before = len(fake.actions)
        with pytest.raises(AmiInjectionError):
            await ami.send_action("Originate", {"Channel": "PJSIP/a\r\nAction: Hangup"})
        await ami.send_action("Ping")  # the stream is still well framed
        assert {a.get("Action") for a in fake.actions[before:]} == {"Ping"}
        assert fake.count("Originate") == 0 and fake.count("Hangup") == 0


async def test_event_list_collection() -> None:
    def handler(conn: FakeConn, action: AmiMessage) -> None:
        aid = action.action_id or ""
        conn.reply(action, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
        conn.send(("Event", "Newchannel"), ("Channel", "unrelated"))  # interleaved, no ActionID
        for ch in ("PJSIP/a-1", "PJSIP/b-2"):
            conn.send(("Event", "Status"), ("ActionID", aid), ("Channel", ch))
        conn.send(
            ("Event", "StatusComplete"), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", "2")
        )

    seen: list[str] = []
    async with FakeAmi(handler) as fake, client(fake) as ami:
        ami.add_listener(lambda ev: seen.append(ev.name))
        assert await ami.wait_connected(2.0)
        response, events = await ami.send_list_action("Status")
        assert response.get("EventList") == "start"
        assert [e.get("Channel") for e in events] == ["PJSIP/a-1", "PJSIP/b-2"]
        await ami.send_action("Ping")
    assert "Newchannel" in seen and "Status" not in seen


async def test_listeners_in_order_filtered_raising_and_testevent() -> None:
    got_all: list[str] = []
    got_hangup: list[str] = []
    done = asyncio.Event()

    def handler(conn: FakeConn, action: AmiMessage) -> None:
        conn.reply(action)
        for i in range(50):
            conn.send(("Event", "TestEvent"), ("Type", "StateChange"))
            conn.send(("Event", "Newchannel" if i % 2 else "Hangup"), ("Seq", str(i)))
        conn.send(("Event", "Shutdown"), ("Seq", "end"))

    async def slow_async(ev: AmiMessage) -> None:
        await asyncio.sleep(0)
        if ev.name != "FullyBooted":  # sent by the server right after login
            got_all.append(ev.get("Seq") or "")
        if ev.name == "Shutdown":
            done.set()

    def boom(ev: AmiMessage) -> None:
        raise RuntimeError("listener bug")

    async with FakeAmi(handler) as fake, client(fake) as ami:
        ami.add_listener(boom)
        ami.add_listener(slow_async)
        remove = ami.add_listener(lambda ev: got_hangup.append(ev.name), events=["Hangup"])
        assert await ami.wait_connected(2.0)
        await ami.send_action("UserEvent", {"UserEvent": "go"})
        await asyncio.wait_for(done.wait(), 5)
        assert got_all == [*map(str, range(50)), "end"]
        assert got_hangup == ["Hangup"] * 25
        assert ami.connected
        remove()
        await ami.send_action("Ping")  # connection survived the raising listener
        assert fake.logins == 1


async def test_hung_pbx_detected_by_pong_timeout(caplog: pytest.LogCaptureFixture) -> None:
    states: list[bool] = []
    async with FakeAmi() as fake, client(fake) as ami:
        ami.add_connection_listener(states.append)
        assert await ami.wait_connected(2.0)
        with caplog.at_level(logging.INFO, logger="dialer.ami"):
            fake.answer_pings = False  # TCP stays open, PBX stops answering
            await fake.wait_for(lambda: fake.logins >= 2, timeout=3.0)
            fake.answer_pings = True
            assert await ami.wait_connected(2.0)
            await fake.wait_for(lambda: fake.count("Ping") > 0)
        await ami.send_action("Ping")
        assert ami.state()["reconnects"] >= 1
        assert "AmiPongTimeout" in (ami.state()["last_error"] or "")
        downs = [r for r in caplog.records if "connection down" in r.getMessage()]
        assert len(downs) == 1
    assert states[:3] == [True, False, True]


async def test_connection_lost_with_pending_originate_is_not_resent() -> None:
    originated = asyncio.Event()

    def handler(conn: FakeConn, action: AmiMessage) -> None:
        if action.get("Action") == "Originate":
            originated.set()
            conn.close()  # drop the connection before answering
        else:
            conn.reply(action)

    states: list[bool] = []
    async with FakeAmi(handler) as fake, client(fake, ping_interval=10.0) as ami:
        ami.add_connection_listener(states.append)
        assert await ami.wait_connected(2.0)
        with pytest.raises(AmiConnectionLost):
            await ami.send_action("Originate", {"Channel": "PJSIP/agent007", "Exten": "+447700900123"})
        await fake.wait_for(lambda: fake.logins >= 2)
        assert await ami.wait_connected(2.0)
        await ami.send_action("Command", {"Command": "core show uptime"})  # an action after reconnect
        assert fake.count("Originate") == 1
    assert states[:3] == [True, False, True]


async def test_pbx_unreachable_then_up() -> None:
    async with FakeAmi() as fake:
        port = fake.port  # now closed: nothing listens there
    states: list[bool] = []
    async with AmiClient("127.0.0.1", port, "callguard", "s3cret", **FAST) as ami:
        ami.add_connection_listener(states.append)
        with pytest.raises(AmiNotConnected):
            await ami.send_action("Ping")
        server = FakeAmi()
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", port)
        async with server:
            assert await ami.wait_connected(3.0)
            assert (await ami.send_action("Ping")).get("Ping") == "Pong"
            assert ami.state()["last_error"] is not None  # the refused connects were recorded
    assert states[:1] == [True]


async def test_every_action_sent_is_observed_with_its_time_and_outcome() -> None:
    def handler(conn: FakeConn, action: AmiMessage) -> None:
        if action.get("Action") == "Getvar":
            conn.reply(action, "Success", ("Value", "x"))
        elif action.get("Action") == "Setvar":
            conn.reply(action, "Error", ("Message", "No such channel"))
        # Hangup: never answered

    seen: list[tuple[str, float, str]] = []
    async with FakeAmi(handler) as fake, client(fake, ping_interval=3600) as ami:
        ami.add_action_observer(lambda name, seconds, outcome: seen.append((name, seconds, outcome)))
        assert await ami.wait_connected(2.0)
        await ami.send_action("Getvar", [("Variable", "A")])
        with pytest.raises(AmiActionError):
            await ami.send_action("Setvar", [("Variable", "A"), ("Value", "1")])
        with pytest.raises(TimeoutError):
            await ami.send_action("Hangup", [("Channel", "PJSIP/1001-1")], timeout=0.05)
    ours = [(name, outcome) for name, _, outcome in seen if name not in ("Login", "Logoff")]
    assert ours == [("Getvar", "ok"), ("Setvar", "error"), ("Hangup", "timeout")]
    assert all(seconds >= 0 for _, seconds, _ in seen)


async def test_a_run_listener_gets_the_events_queued_together_in_order() -> None:
    """Events queued while the listeners were busy reach a run listener as one list, in order, filtered, cut
    at a connection change (which keeps its place); per-event listeners still get every event in order."""
    dispatcher = Dispatcher(name="t", logger=logging.getLogger("t"), max_queued=100)
    runs: list[list[str]] = []
    singles: list[str] = []
    changes: list[tuple[bool, int]] = []

    def event(name: str, seq: int) -> AmiMessage:
        return AmiMessage.from_lines([f"Event: {name}", f"Seq: {seq}"])

    dispatcher.add_run_listener(lambda msgs: runs.append([m.get("Seq") or "" for m in msgs]),
                                events=["Newstate", "Hangup"])
    dispatcher.add_listener(lambda m: singles.append(m.get("Seq") or ""), events=None)
    dispatcher.add_connection_listener(lambda up: changes.append((up, len(runs))))
    for i in range(3):
        dispatcher.push_event(event("Newstate", i))
    dispatcher.push_event(event("VarSet", 3))  # not the run listener's: left out of its list
    dispatcher.push_event(event("Hangup", 4))
    dispatcher.push_connection(False)
    dispatcher.push_event(event("Hangup", 5))
    dispatcher.push_event(event("VarSet", 6))
    assert dispatcher.backlog == 8  # read, not yet applied: what the dial shedding reads (PbxGateway.event_backlog)
    task = asyncio.create_task(dispatcher.run())
    try:
        for _ in range(10):
            await asyncio.sleep(0)
        assert dispatcher.backlog == 0
        assert runs == [["0", "1", "2", "4"], ["5"]]
        assert changes == [(False, 1)]
        assert singles == ["0", "1", "2", "3", "4", "5", "6"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
