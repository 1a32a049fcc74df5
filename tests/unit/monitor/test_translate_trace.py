"""A monitoring session recorded from the real Asterisk 22 sandbox (tests/fixtures/ami/monitor_session.trace,
on the service's own AMI account): listen, Redirect to whisper, Redirect to barge, the leg hung up by AMI, then
the agent hangs up. Replayed through the parser and both translations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dialer.ami import AmiMessage, AmiParser
from dialer.states import CallFacts, CallState, EndReason, derive
from dialer.translate import MonitorLegUpdate, translate, translate_monitor

TRACE = Path(__file__).resolve().parents[2] / "fixtures" / "ami" / "monitor_session"
T0 = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


def _trace() -> tuple[str, str, list[AmiMessage]]:
    head = (TRACE.with_suffix(".summary.txt")).read_text().splitlines()
    call_id = head[0].removeprefix("call id ").strip()
    session_id = head[1].split()[2].removeprefix("monitor-")
    return call_id, session_id, list(AmiParser().feed(TRACE.with_suffix(".trace").read_bytes()))


def test_the_supervisors_leg_is_read_as_a_monitoring_session() -> None:
    _call_id, session_id, msgs = _trace()
    ups = [u for i, m in enumerate(msgs) if (u := translate_monitor(m, T0 + timedelta(milliseconds=i)))]
    assert ups and {u.session_id for u in ups} == {session_id}
    assert [u.event for u in ups][0] == "Newchannel" and ups[-1].event == "Hangup"
    assert {u.channel for u in ups if u.channel} == {"PJSIP/1090-00000002"}
    answered = [u for u in ups if u.answered_at is not None]
    ended = [u for u in ups if u.ended_at is not None]
    # answered: Newstate Up, then OriginateResponse Success; ended once, by its Hangup (cause 16)
    assert [u.event for u in answered] == ["Newstate", "OriginateResponse"]
    assert [(u.event, u.cause) for u in ended] == [("Hangup", 16)]
    assert answered[0].answered_at is not None and ended[0].ended_at is not None
    assert answered[0].answered_at < ended[0].ended_at  # the PBX's own Timestamp headers
    assert answered[0].answered_at.year == 2026 and answered[0].answered_at != T0


def test_the_call_is_told_nothing_by_the_supervisors_leg_and_ends_as_it_would_without_it() -> None:
    call_id, _session_id, msgs = _trace()
    ups = [u for i, m in enumerate(msgs) if (u := translate(m, T0 + timedelta(milliseconds=i)))]
    assert {u.call_id for u in ups} == {call_id}
    monitor_channels = {m.get("Channel") for m in msgs if (m.get("Uniqueid") or "").startswith("monitor-")}
    assert monitor_channels == {"PJSIP/1090-00000002"}
    assert all(u.facts.get("customer_channel") not in monitor_channels for u in ups)
    facts = CallFacts(requested_at=T0)
    for u in ups:
        facts = facts.merge(**u.facts)
    status = derive(facts)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.customer_channel == "PJSIP/customers-00000001" and facts.agent_channel == "PJSIP/1001-00000000"


def test_other_legs_and_forged_ids_are_not_monitoring_legs() -> None:
    class Msg:
        def __init__(self, **f: str) -> None:
            self.name, self.f = f.pop("Event"), f

        def get(self, key: str, default: str | None = None) -> str | None:
            return self.f.get(key, default)

        def chan_variables(self) -> dict[str, str]:
            return {}

    sid = "0f0e0d0c-0b0a-4909-8807-060504030201"
    assert translate_monitor(Msg(Event="Hangup", Uniqueid="monitor-x; rm -rf"), T0) is None
    assert translate_monitor(Msg(Event="Hangup", Uniqueid=sid), T0) is None  # a call's leg, not ours
    assert translate_monitor(Msg(Event="DialEnd", Uniqueid=f"monitor-{sid}"), T0) is None
    failed = translate_monitor(Msg(Event="OriginateResponse", Uniqueid=f"monitor-{sid}", Response="Failure"), T0)
    assert failed == MonitorLegUpdate(sid, "OriginateResponse", ended_at=T0)


def test_a_supervisors_phone_that_refuses_ends_the_leg_unanswered() -> None:
    """tests/fixtures/ami/monitor_rejected.trace: the supervisor's phone answers 486. The failed
    ``OriginateResponse`` (``Channel: PJSIP/1090``, no sequence) comes before the leg's ``Hangup`` (cause 17)."""
    base = TRACE.with_name("monitor_rejected")
    head = base.with_suffix(".summary.txt").read_text().splitlines()
    session_id = head[1].split()[2].removeprefix("monitor-")
    msgs = AmiParser().feed(base.with_suffix(".trace").read_bytes())
    ups = [u for m in msgs if (u := translate_monitor(m, T0))]
    assert {u.session_id for u in ups} == {session_id}
    assert all(u.answered_at is None for u in ups)
    assert [(u.event, u.cause) for u in ups if u.ended_at is not None] == [("OriginateResponse", None),
                                                                            ("Hangup", 17)]
    assert {u.channel for u in ups if u.channel} == {"PJSIP/1090-00000002"}  # never the failure's bare endpoint
    call_id = head[0].removeprefix("call id ").strip()
    assert {f.call_id for m in msgs if (f := translate(m, T0))} == {call_id}  # the leg tells the call nothing
