"""Replays the raw AMI traces of blind transfers recorded from the real Asterisk 22 sandbox
(``python -m sandbox.capture OUT blind_transfer blind_transfer_not_answered``) through the parser, both
translations and both state machines: the call stays one call and ends with the customer, not with the agent
who transferred; the legs and the transfer's state come out the same in any order of the events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dialer.ami import AmiParser
from dialer.states import CallFacts, CallState, EndReason, derive
from dialer.transfer import TransferFacts, TransferMode, TransferState, derive_transfer, leg_facts, talk_seconds
from dialer.translate import FactUpdate, LegUpdate, translate, translate_leg

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
OLD_TRACES = ("answered_call", "customer_hangs_up", "customer_busy", "customer_no_answer", "agent_no_answer",
              "agent_reject", "agent_offline", "customer_unavailable_503", "customer_not_found_404")


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@dataclass
class Replay:
    ids: dict[str, str]
    calls: list[FactUpdate] = field(default_factory=list)
    legs: list[LegUpdate] = field(default_factory=list)


def replay(scenario: str) -> Replay:
    head = (TRACES / f"{scenario}.summary.txt").read_text().split("\n", 1)[0].split()
    # "call id <id>[ transfer <id> target leg <id> back leg <id or ->]"
    ids = {"call": head[2]}
    if len(head) > 3:
        ids.update({"transfer": head[4], "target": head[7], "back": head[10]})
    out = Replay(ids)
    for i, msg in enumerate(AmiParser().feed((TRACES / f"{scenario}.trace").read_bytes())):
        at = T0 + timedelta(milliseconds=i)
        if (u := translate(msg, at)) is not None:
            out.calls.append(u)
        if (leg := translate_leg(msg, at)) is not None:
            out.legs.append(leg)
    return out


def fold_legs(ups: list[LegUpdate]) -> dict[str | None, dict[str, Any]]:
    """Leg facts by leg id (None: the call's own agent leg), as TransferService merges them."""
    legs: dict[str | None, dict[str, Any]] = {}
    for u in ups:
        leg = legs.setdefault(u.leg_id, {})
        for k, v in u.facts.items():
            if v is not None and (k not in leg or (isinstance(v, datetime) and v < leg[k])):
                leg[k] = v
    return legs


def transfer_state(target: dict[str, Any], requested_at: datetime, mode: TransferMode = TransferMode.BLIND,
                   **service: datetime) -> TransferState:
    """The transfer's state from its target leg's facts (and the service's own: completed_at, cancelled_at)."""
    implied = leg_facts(answered_at=target.get("answered_at"), ended_at=target.get("ended_at"),
                        dial_status=target.get("dial_status"), at=requested_at, mode=mode)
    return derive_transfer(replace(TransferFacts(requested_at=requested_at), **{**implied, **service}))


def call_status(r: Replay, ups: list[FactUpdate]) -> tuple[CallFacts, Any]:
    facts = CallFacts(requested_at=T0)
    for u in ups:
        assert u.call_id == r.ids["call"]
        facts = facts.merge(**u.facts)
    return facts, derive(facts)


def test_blind_transfer_keeps_one_call_that_ends_with_the_customer() -> None:
    r = replay("blind_transfer")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    # ended when the customer hung up (1796470766.018), not when ana's phone left (1796470762.981)
    assert facts.ended_at == _ts(1796470766.01846) and status.talk_seconds == 4.046
    assert facts.customer_channel == "PJSIP/customers-00000001"  # pete's channel is not taken for the customer

    legs = fold_legs(r.legs)
    assert {u.call_id for u in r.legs} == {r.ids["call"]}
    assert set(legs) == {None, r.ids["target"]}
    assert [u.transfer_id for u in r.legs if u.leg_id is None] == [r.ids["transfer"]]
    ana, pete = legs[None], legs[r.ids["target"]]
    assert ana == {"ended_at": _ts(1796470762.981451), "cause": 16}
    assert pete["channel"] == "PJSIP/1005-00000002" and pete["dial_status"] == "ANSWER"
    assert pete["ringing_at"] < pete["answered_at"] == _ts(1796470763.31432)
    assert talk_seconds(pete["answered_at"], pete["ended_at"]) == 2.702
    assert transfer_state(pete, T0) is TransferState.COMPLETED


def test_a_target_who_does_not_answer_fails_the_transfer_and_the_customer_rings_back() -> None:
    r = replay("blind_transfer_not_answered")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.ended_at == _ts(1796470779.875652)
    legs = fold_legs(r.legs)
    assert set(legs) == {None, r.ids["target"], r.ids["back"]}
    nick, back = legs[r.ids["target"]], legs[r.ids["back"]]
    assert "answered_at" not in nick and (nick["dial_status"], nick["cause"]) == ("NOANSWER", 0)
    assert transfer_state(nick, T0) is TransferState.FAILED
    assert back["channel"].startswith("PJSIP/1001-") and back["dial_status"] == "ANSWER"
    assert talk_seconds(back["answered_at"], back["ended_at"]) == 5.69


def _without_channels(result: tuple[CallFacts, Any]) -> tuple[CallFacts, Any]:
    facts, status = result
    return replace(facts, customer_channel=None, customer_uniqueid=None), status


ATTENDED = TransferMode.ATTENDED


def test_attended_transfer_consults_then_completes_and_the_call_ends_with_the_customer() -> None:
    r = replay("attended_transfer_completed")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.ended_at == _ts(1796472028.873368)  # the customer, after pete hung up
    legs = fold_legs(r.legs)
    pete, ana = legs[r.ids["target"]], legs[None]
    assert ana["ended_at"] == _ts(1796472025.858387)  # ana's consult leg ends at the Bridge
    assert transfer_state({**pete, "ended_at": None}, T0, ATTENDED) is TransferState.CONSULTING
    # the service's completion (its AMI Bridge: the customer's BridgeEnter at 1796472025.856295)
    bridged = _ts(1796472025.856295)
    assert transfer_state(pete, T0, ATTENDED, completed_at=bridged) is TransferState.COMPLETED
    assert talk_seconds(bridged, pete["ended_at"]) == 3.017  # pete's talk with the customer, not the consult


def test_attended_transfer_cancelled_gives_the_customer_back_and_the_agent_ends_the_call() -> None:
    r = replay("attended_transfer_cancelled")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.ended_at == _ts(1796472038.10836)  # the customer's channel ends with ana's (Bridge option x)
    legs = fold_legs(r.legs)
    pete = legs[r.ids["target"]]
    assert pete["answered_at"] and pete["ended_at"] == _ts(1796472035.096196)
    assert transfer_state(pete, T0, ATTENDED) is TransferState.CANCELLED
    assert legs[None]["ended_at"] == _ts(1796472038.113322)  # ana talked to the customer until the end


def test_attended_transfer_not_answered_fails_and_the_customer_stays_with_the_agent() -> None:
    r = replay("attended_transfer_not_answered")
    _facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    nick = fold_legs(r.legs)[r.ids["target"]]
    assert "answered_at" not in nick and nick["dial_status"] == "NOANSWER"
    assert transfer_state(nick, T0, ATTENDED) is TransferState.FAILED


def event_times(scenario: str, event: str, channel: str, **fields: str) -> list[datetime]:
    """The PBX's own times of every ``event`` of ``channel`` (with ``fields``) in the trace, in order."""
    times = [_ts(float(msg.get("Timestamp") or "nan"))
             for msg in AmiParser().feed((TRACES / f"{scenario}.trace").read_bytes())
             if msg.get("Event") == event and msg.get("Channel") == channel
             and all(msg.get(k) == v for k, v in fields.items())]
    assert times, f"no {event} of {channel} in {scenario}"
    return times


def event_at(scenario: str, event: str, channel: str, **fields: str) -> datetime:
    """The PBX's own time of the first such event."""
    return event_times(scenario, event, channel, **fields)[0]


# Transfers to an outside number (``python -m sandbox.capture OUT blind_transfer_out blind_transfer_out_not_answered
# attended_transfer_out_completed``): ana (PJSIP/1001) talks to the debtor on the customer trunk, then hands the
# debtor to another number dialled through the same trunk (callguard-transfer-out, callguard-xfer-consult-out).
CUSTOMER, OUTSIDE = "PJSIP/customers-00000001", "PJSIP/customers-00000002"


def test_blind_transfer_to_a_number_keeps_one_call_that_ends_with_the_customer() -> None:
    r = replay("blind_transfer_out")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    # the debtor's channel ends the call, not ana's leaving; the outside party's channel (the same trunk) is never
    # taken for the customer's
    assert facts.ended_at == event_at("blind_transfer_out", "Hangup", CUSTOMER)
    assert facts.ended_at > event_at("blind_transfer_out", "Hangup", "PJSIP/1001-00000000")
    assert facts.customer_channel == CUSTOMER
    legs = fold_legs(r.legs)
    assert set(legs) == {None, r.ids["target"]}
    outside = legs[r.ids["target"]]
    assert outside["channel"] == OUTSIDE and outside["dial_status"] == "ANSWER"
    assert outside["answered_at"] == event_at("blind_transfer_out", "Newstate", OUTSIDE, ChannelState="6")
    assert outside["ended_at"] == event_at("blind_transfer_out", "Hangup", OUTSIDE)
    assert transfer_state(outside, T0) is TransferState.COMPLETED
    assert (talk_seconds(outside["answered_at"], outside["ended_at"]) or 0) > 0


def test_an_outside_number_that_does_not_answer_fails_and_the_customer_rings_back_to_ana() -> None:
    r = replay("blind_transfer_out_not_answered")
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.ended_at == event_at("blind_transfer_out_not_answered", "Hangup", "PJSIP/customers-00000004")
    legs = fold_legs(r.legs)
    assert set(legs) == {None, r.ids["target"], r.ids["back"]}
    outside, back = legs[r.ids["target"]], legs[r.ids["back"]]
    assert outside["channel"] == "PJSIP/customers-00000005" and "answered_at" not in outside
    assert outside["dial_status"] == "NOANSWER"
    assert transfer_state(outside, T0) is TransferState.FAILED
    assert back["channel"] == "PJSIP/1001-00000006" and back["dial_status"] == "ANSWER"
    assert (talk_seconds(back["answered_at"], back["ended_at"]) or 0) > 0


def test_attended_transfer_to_a_number_consults_it_then_completes() -> None:
    scenario = "attended_transfer_out_completed"
    r = replay(scenario)
    facts, status = call_status(r, r.calls)
    assert (status.state, status.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
    assert facts.customer_channel == "PJSIP/customers-00000008"
    assert facts.ended_at == event_at(scenario, "Hangup", "PJSIP/customers-00000008")
    legs = fold_legs(r.legs)
    outside, ana = legs[r.ids["target"]], legs[None]
    assert outside["channel"] == "PJSIP/customers-00000009" and outside["answered_at"]
    assert ana["ended_at"] == event_at(scenario, "Hangup", "PJSIP/1001-00000007")  # the consult leg, at the Bridge
    assert transfer_state({**outside, "ended_at": None}, T0, ATTENDED) is TransferState.CONSULTING
    # the service's completion: its AMI Bridge puts the customer (on hold) with the outside party
    completed = event_times(scenario, "BridgeEnter", "PJSIP/customers-00000008")[-1]
    assert transfer_state(outside, T0, ATTENDED, completed_at=completed) is TransferState.COMPLETED
    talk, with_consult = talk_seconds(completed, outside["ended_at"]), talk_seconds(outside["answered_at"],
                                                                                    outside["ended_at"])
    assert talk is not None and with_consult is not None and 0 < talk < with_consult  # the consult is no talk


@pytest.mark.parametrize("scenario", ["blind_transfer", "blind_transfer_not_answered", "attended_transfer_completed",
                                      "attended_transfer_cancelled", "attended_transfer_not_answered",
                                      "blind_transfer_out", "blind_transfer_out_not_answered",
                                      "attended_transfer_out_completed"])
def test_any_order_of_the_events_gives_the_same_call_legs_and_transfer(scenario: str) -> None:
    r = replay(scenario)
    # the channel names are first-seen facts: a target's first Newchannel (before its CALLGUARD_LEG is set)
    # could be taken for the customer's only if it arrived before the customer's, which the PBX cannot do
    # (the target is dialled by the customer's channel); everything the call's state is made of must agree
    want_call = _without_channels(call_status(r, r.calls))
    want_legs = fold_legs(r.legs)
    mode = ATTENDED if scenario.startswith("attended") else TransferMode.BLIND
    want_state = transfer_state(want_legs[r.ids["target"]], T0, mode)
    rng = random.Random(scenario)
    for _ in range(300):
        calls, legs = r.calls[:], r.legs[:]
        rng.shuffle(calls)
        rng.shuffle(legs)
        assert _without_channels(call_status(r, calls)) == want_call
        folded = fold_legs(legs)
        assert folded == want_legs
        assert transfer_state(folded[r.ids["target"]], T0, mode) is want_state


@pytest.mark.parametrize("scenario", OLD_TRACES)
def test_calls_without_a_transfer_tell_nothing_about_legs(scenario: str) -> None:
    assert replay(scenario).legs == []


def test_the_transfer_state_machine() -> None:
    t = TransferFacts(requested_at=T0)
    later = T0 + timedelta(seconds=5)
    assert derive_transfer(t) is TransferState.REQUESTED
    assert derive_transfer(replace(t, consulting_at=later)) is TransferState.CONSULTING
    assert derive_transfer(replace(t, consulting_at=later, cancelled_at=later)) is TransferState.CANCELLED
    assert derive_transfer(replace(t, failed_at=later)) is TransferState.FAILED
    # a target's answer completes the transfer whatever else was learnt
    assert derive_transfer(replace(t, failed_at=later, completed_at=later)) is TransferState.COMPLETED
    assert leg_facts(answered_at=None, ended_at=None, dial_status=None, at=later) == {}
    assert leg_facts(answered_at=None, ended_at=None, dial_status="BUSY", at=later) == {"failed_at": later}
    assert leg_facts(answered_at=None, ended_at=None, dial_status="ANSWER", at=later) == {}
    assert leg_facts(answered_at=later, ended_at=later, dial_status="ANSWER", at=T0) == {"completed_at": later}
    assert talk_seconds(later, None) is None and talk_seconds(later, T0) == 0.0
