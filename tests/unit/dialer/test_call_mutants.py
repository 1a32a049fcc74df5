"""AMI translation event by event, and the state machine's corners, found untested by the mutation run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.ami import AmiParser
from dialer.states import CallFacts, CallState, EndReason, derive, transitions
from dialer.translate import AmiEventLike, FactUpdate, call_id_of, event_time, translate

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
CID = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"
OTHER = "0a1b2c3d-4e5f-4a6b-8c7d-fedcba987654"


def ami(event: str, *headers: tuple[str, str]) -> AmiEventLike:
    """One AMI event parsed from its wire form by the real parser."""
    text = f"Event: {event}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    (msg,) = AmiParser().feed(text.encode())
    return msg


def tr(event: str, *headers: tuple[str, str]) -> FactUpdate | None:
    return translate(ami(event, *headers), T0)


# -- translation ---------------------------------------------------------------------------------------------
def test_event_time_is_the_pbx_timestamp_else_the_arrival():
    assert event_time(ami("Hangup", ("Timestamp", "1795971494.5")), T0) == datetime.fromtimestamp(
        1795971494.5, UTC)
    assert event_time(ami("Hangup", ("Timestamp", "1795971494.5")), T0).tzinfo is UTC
    assert event_time(ami("Hangup"), T0) == T0
    assert event_time(ami("Hangup", ("Timestamp", "soon")), T0) == T0


def test_the_call_id_comes_from_call_id_then_linkedid_then_uniqueid():
    assert call_id_of(ami("Newstate", ("ChanVariable", f"CALL_ID={CID}"), ("Linkedid", OTHER),
                          ("Uniqueid", OTHER))) == CID
    assert call_id_of(ami("Newstate", ("Linkedid", CID), ("Uniqueid", OTHER))) == CID
    assert call_id_of(ami("Newstate", ("Uniqueid", CID))) == CID
    assert call_id_of(ami("Newstate", ("Linkedid", "1795971494.12"), ("Uniqueid", CID))) is None
    assert call_id_of(ami("Newstate", ("Uniqueid", "1795971494.12"))) is None


def test_originate_response():
    assert tr("OriginateResponse", ("Response", "Success"), ("Uniqueid", CID)) == FactUpdate(
        CID, "OriginateResponse", {"originated_at": T0})
    assert tr("OriginateResponse", ("Response", "Failure"), ("Uniqueid", CID), ("Reason", "3")) == FactUpdate(
        CID, "OriginateResponse", {"originate_reason": 3, "ended_at": T0})
    assert tr("OriginateResponse", ("Response", "Failure"), ("Uniqueid", CID)) == FactUpdate(
        CID, "OriginateResponse", {"originate_reason": 0, "ended_at": T0})
    assert tr("OriginateResponse", ("Response", "Success"), ("Uniqueid", "1795971494.1")) is None
    assert tr("OriginateResponse", ("Response", "Success")) is None
    at = tr("OriginateResponse", ("Response", "Success"), ("Uniqueid", CID), ("Timestamp", "1795971494"))
    assert at is not None and at.facts["originated_at"] == datetime.fromtimestamp(1795971494, UTC)


def test_the_customer_dial_runs_on_the_agent_channel():
    begin = tr("DialBegin", ("Uniqueid", CID), ("DestChannel", "PJSIP/customers-01"), ("DestUniqueid", "17.2"),
               ("Timestamp", "1795971494"))
    assert begin == FactUpdate(CID, "DialBegin", {"customer_ringing_at": datetime.fromtimestamp(1795971494, UTC),
                                                  "customer_channel": "PJSIP/customers-01",
                                                  "customer_uniqueid": "17.2"})
    assert tr("DialBegin", ("Uniqueid", CID)) == FactUpdate(
        CID, "DialBegin", {"customer_ringing_at": T0, "customer_channel": None, "customer_uniqueid": None})
    assert tr("DialEnd", ("Uniqueid", CID), ("DialStatus", "answer")) == FactUpdate(
        CID, "DialEnd", {"dial_status": "ANSWER", "answered_at": T0})
    assert tr("DialEnd", ("Uniqueid", CID), ("DialStatus", "BUSY")) == FactUpdate(
        CID, "DialEnd", {"dial_status": "BUSY"})
    assert tr("DialEnd", ("Uniqueid", CID)) == FactUpdate(CID, "DialEnd", {"dial_status": None})


def test_the_originates_own_dial_of_the_agent_carries_only_dest_fields():
    assert tr("DialEnd", ("DestUniqueid", CID), ("DialStatus", "busy")) == FactUpdate(
        CID, "DialEnd", {"agent_dial_status": "BUSY"})
    assert tr("DialEnd", ("DestUniqueid", CID)) == FactUpdate(CID, "DialEnd", {"agent_dial_status": None})
    assert tr("DialBegin", ("DestUniqueid", CID)) is None
    assert tr("DialEnd", ("Uniqueid", "17.1"), ("DestUniqueid", CID)) is None
    assert tr("DialEnd", ("DestUniqueid", "17.1")) is None


@pytest.mark.parametrize(("state", "agent_fact", "customer_fact"), [
    ("5", "agent_ringing_at", "customer_ringing_at"),
    ("6", "agent_answered_at", "answered_at"),
    ("4", None, None),
])
def test_channel_states_of_each_leg(state, agent_fact, customer_fact):
    agent = tr("Newstate", ("Channel", "PJSIP/1001-1"), ("ChannelState", state), ("Uniqueid", CID),
               ("Linkedid", CID))
    expected = {"agent_channel": "PJSIP/1001-1", **({agent_fact: T0} if agent_fact else {})}
    assert agent == FactUpdate(CID, "Newstate", expected)
    customer = tr("Newchannel", ("Channel", "PJSIP/customers-2"), ("ChannelState", state), ("Uniqueid", "17.9"),
                  ("Linkedid", CID))
    expected = {"customer_channel": "PJSIP/customers-2", "customer_uniqueid": "17.9",
                **({customer_fact: T0} if customer_fact else {})}
    assert customer == FactUpdate(CID, "Newchannel", expected)


def test_hangups_of_each_leg():
    assert tr("Hangup", ("Uniqueid", CID), ("Linkedid", CID), ("Cause", "16"),
              ("Cause-txt", "Normal Clearing")) == FactUpdate(
        CID, "Hangup", {"ended_at": T0, "agent_cause": 16, "agent_cause_text": "Normal Clearing"})
    assert tr("Hangup", ("Uniqueid", "17.9"), ("Linkedid", CID), ("Cause", "17"),
              ("Cause-txt", "User busy")) == FactUpdate(
        CID, "Hangup", {"customer_cause": 17, "customer_cause_text": "User busy"})
    assert tr("Hangup", ("Uniqueid", CID)) == FactUpdate(
        CID, "Hangup", {"ended_at": T0, "agent_cause": None, "agent_cause_text": None})
    assert tr("Hangup", ("Uniqueid", CID), ("Cause", "")) == FactUpdate(
        CID, "Hangup", {"ended_at": T0, "agent_cause": None, "agent_cause_text": None})
    assert tr("Hangup", ("Uniqueid", CID), ("Cause", "x")) == FactUpdate(
        CID, "Hangup", {"ended_at": T0, "agent_cause": None, "agent_cause_text": None})


def test_only_a_pbx_shutdown_soft_hangup_is_a_failure():
    assert tr("SoftHangupRequest", ("Uniqueid", CID), ("Cause", "4")) == FactUpdate(
        CID, "SoftHangupRequest", {"failure": "pbx-shutdown"})
    assert tr("SoftHangupRequest", ("Uniqueid", CID), ("Cause", "5")) == FactUpdate(
        CID, "SoftHangupRequest", {"failure": "pbx-shutdown"})
    assert tr("SoftHangupRequest", ("Uniqueid", CID), ("Cause", "2")) is None
    assert tr("SoftHangupRequest", ("Uniqueid", CID)) is None


def test_events_of_no_interest_or_of_other_calls_tell_nothing():
    assert tr("VarSet", ("Uniqueid", CID)) is None
    assert tr("Newstate", ("Uniqueid", "17.1"), ("ChannelState", "6")) is None


# -- the state machine ---------------------------------------------------------------------------------------
def facts(**kw: object) -> CallFacts:
    return CallFacts(requested_at=T0).merge(**kw)


def test_merge_skips_unknowns_and_keeps_the_earliest_and_the_first():
    f = facts(agent_cause=None, dial_status="BUSY", answered_at=T0 + timedelta(seconds=5))
    assert f.dial_status == "BUSY"
    g = f.merge(dial_status="NOANSWER", answered_at=T0 + timedelta(seconds=3))
    assert g.dial_status == "BUSY" and g.answered_at == T0 + timedelta(seconds=3)
    assert f.merge(answered_at=T0 + timedelta(seconds=9)).answered_at == T0 + timedelta(seconds=5)


def test_state_progress_and_no_end_reason_before_the_end():
    answered = facts(agent_ringing_at=T0, agent_answered_at=T0, customer_ringing_at=T0, answered_at=T0)
    status = derive(answered)
    assert status.state is CallState.ANSWERED and status.end_reason is None and status.talk_seconds is None
    assert derive(facts(agent_ringing_at=T0)).end_reason is None
    assert transitions(status, status) == []
    assert transitions(derive(facts()), status) == [CallState.ANSWERED]
    assert transitions(status, derive(facts())) == []


def test_ring_and_talk_seconds_to_the_millisecond_without_a_floor():
    ring = T0 + timedelta(seconds=1)
    f = facts(agent_answered_at=T0, customer_ringing_at=ring, answered_at=ring + timedelta(microseconds=456_789),
              ended_at=ring + timedelta(seconds=0, microseconds=700_000))
    s = derive(f)
    assert s.ring_seconds == 0.457 and s.talk_seconds == 0.243
    early = facts(agent_answered_at=T0, customer_ringing_at=ring, ended_at=ring - timedelta(seconds=2))
    assert derive(early).ring_seconds == 0.0  # clock skew never gives negative durations


def test_the_cause_is_the_customers_once_the_agent_answered():
    f = facts(agent_answered_at=T0, customer_cause=17, customer_cause_text="User busy", agent_cause=16,
              agent_cause_text="Normal Clearing", ended_at=T0)
    s = derive(f)
    assert (s.hangup_cause, s.hangup_cause_text) == (17, "User busy")
    s = derive(facts(customer_cause=17, customer_cause_text="User busy", agent_cause=21,
                     agent_cause_text="Call Rejected", ended_at=T0))
    assert (s.hangup_cause, s.hangup_cause_text) == (21, "Call Rejected")  # agent never answered
    s = derive(facts(agent_answered_at=T0, agent_cause=16, agent_cause_text="Normal Clearing", ended_at=T0))
    assert (s.hangup_cause, s.hangup_cause_text) == (16, "Normal Clearing")  # no customer cause


def test_agent_answered_but_the_customer_leg_never_rang():
    base = {"agent_answered_at": T0, "ended_at": T0 + timedelta(seconds=4)}
    assert derive(facts(**base)).end_reason is EndReason.CANCELLED  # the agent hung up first
    assert derive(facts(**base, agent_cause=16)).end_reason is EndReason.CANCELLED
    assert derive(facts(**base, agent_cause=21)).end_reason is EndReason.FAILED  # no go-ahead in time
    assert derive(facts(**base, agent_cause=22)).end_reason is EndReason.CANCELLED
    rang = facts(**base, customer_ringing_at=T0 + timedelta(seconds=1))
    assert derive(rang).end_reason is EndReason.FAILED  # rang but gave no dial result


@pytest.mark.parametrize(("status", "cause", "reason"), [
    ("BUSY", None, EndReason.AGENT_REJECTED),
    ("CONGESTION", None, EndReason.AGENT_UNAVAILABLE),
    ("BUSY", 18, EndReason.AGENT_NO_ANSWER),  # the Q.850 cause wins when there is one
    ("CHANUNAVAIL", None, EndReason.FAILED),
])
def test_the_agent_dial_status_without_a_cause(status, cause, reason):
    assert derive(facts(agent_dial_status=status, agent_cause=cause, ended_at=T0)).end_reason is reason
