"""CDR-derived figures on the raw AMI traces recorded from the real Asterisk 22 sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.cdr import CdrCall, CdrTotals, cdr_calls, cdr_totals
from dialer.ami import AmiParser

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"

# scenario -> (records, attempted, connected, talk seconds, disposition of the customer Dial record)
EXPECTED = {
    "answered_call": (1, True, True, 3, "ANSWERED"),
    "customer_hangs_up": (1, True, True, 6, "ANSWERED"),
    "customer_busy": (2, True, False, 0, "BUSY"),
    "customer_no_answer": (2, True, False, 0, "NO ANSWER"),  # its Dial record says BillableSeconds 4
    "customer_unavailable_503": (2, True, False, 0, "CONGESTION"),
    "customer_not_found_404": (2, True, False, 0, "NO ANSWER"),
    "agent_no_answer": (1, False, False, 0, None),  # UserField empty: keyed by UniqueID = call id
    "agent_reject": (1, False, False, 0, None),
}


def events(scenario: str) -> list[dict[str, str | list[str]]]:
    msgs = AmiParser().feed((TRACES / f"{scenario}.trace").read_bytes())
    return [m.as_dict() for m in msgs if m.kind == "event" and m.name == "Cdr"]


def call_id(scenario: str) -> str:
    return (TRACES / f"{scenario}.summary.txt").read_text().split("\n", 1)[0].removeprefix("call id ").strip()


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_recorded_scenario(scenario: str) -> None:
    calls = cdr_calls(events(scenario))
    records, attempted, connected, talk, disposition = EXPECTED[scenario]
    cid = call_id(scenario)
    assert calls == {cid: CdrCall(cid, records, attempted, connected, talk, disposition)}


def test_agent_offline_leaves_no_record() -> None:
    assert events("agent_offline") == [] and cdr_calls(events("agent_offline")) == {}


def test_all_scenarios_together_and_in_any_order() -> None:
    everything = [e for s in sorted(EXPECTED) for e in events(s)]
    totals = cdr_totals(cdr_calls(everything).values())
    assert totals == CdrTotals(attempted=6, connected=2, talk_seconds=9)
    assert cdr_totals(cdr_calls(reversed(everything)).values()) == totals


def test_only_the_customer_trunk_record_counts() -> None:
    dial = {"Event": "Cdr", "UniqueID": "c1", "UserField": "c1", "DestinationChannel": "PJSIP/other-00000001",
            "Disposition": "ANSWERED", "BillableSeconds": "9"}
    assert cdr_calls([dial])["c1"].attempted is False
    assert cdr_calls([dial], trunk="other")["c1"] == CdrCall("c1", 1, True, True, 9, "ANSWERED")
    assert cdr_calls([{**dial, "Event": "Hangup"}]) == {}
