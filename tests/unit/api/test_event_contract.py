"""Every event type has a data model, and the suite-wide check (``tests.support.event_contract``) has teeth."""

from __future__ import annotations

import importlib
import re

import pytest

from api.app import event_data, event_types
from auth.events import SESSION_EVENTS
from tests.support.event_contract import REGISTRY, EventContractBroken, check

PACKAGES = ("auth", "callbacks", "campaigns", "cases", "dialer", "inbound", "monitor", "payments", "presence",
            "recordings")
_TYPE = re.compile(r"^[a-z]+\.[a-z_]+$")


def _declared() -> dict[str, str]:
    """Every event type named in a package's events.py (its upper-case string constants), and where."""
    out: dict[str, str] = {}
    for pkg in PACKAGES:
        module = importlib.import_module(f"{pkg}.events")
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and _TYPE.match(value):
                out[value] = f"{pkg}.events.{name}"
    return out


def test_every_declared_event_type_has_a_data_model() -> None:
    declared = _declared()
    assert len(declared) > 40
    missing = sorted(f"{t} ({where})" for t, where in declared.items() if t not in REGISTRY)
    assert not missing, f"event types without a data model: {missing}"
    assert set(REGISTRY) == set(declared)


def test_the_documented_types_are_the_public_ones() -> None:
    assert set(event_types()) == set(REGISTRY) - SESSION_EVENTS
    assert not set(event_types()) & SESSION_EVENTS
    assert len(set(event_types())) == len(event_types())
    assert event_data()["call.transfer_completed"].__name__ == "CallTransferData"


CALL = {"call_id": "c-1", "agent_id": "alice", "case_id": None, "client_id": "bank-a", "batch_id": None,
        "state": "ended", "end_reason": "completed", "hangup_cause": 16, "ring_seconds": 2.0, "talk_seconds": 30.5}
CASE = {"case_id": "k-1", "client_id": "bank-a", "batch_id": None, "external_id": "E1", "status": "active",
        "days_overdue": 3, "assigned_agent": None, "team": "t1"}


def test_a_payload_exactly_like_the_model_passes() -> None:
    check("call.ended", CALL)
    check("case.updated", {**CASE, "change": "number_status", "number_status": "invalid", "number_kind": "mobile"})
    check("case.updated", {**CASE, "change": "status"})
    check("callback.scheduled", {
        "callback_id": "cb", "case_id": None, "client_id": None, "agent_id": None, "team": None,
        "due_at": "2026-01-02T03:04:05+00:00", "state": "scheduled", "source_call_id": "c-1", "done_reason": None,
        "done_call_id": None, "origin": "disposition", "team_due_at": None, "handed_at": None})


@pytest.mark.parametrize(("type_", "payload"), [
    ("call.teleported", CALL),  # no model: a new type must come with one
    ("call.ended", {**CALL, "number": "+8613800000001"}),  # a key the model lacks
    ("call.ended", {k: v for k, v in CALL.items() if k != "talk_seconds"}),  # a key missing
    ("call.ended", {**CALL, "state": "teleported"}),  # outside the enum
    ("call.ended", {**CALL, "hangup_cause": "16"}),  # the wrong type
    ("case.updated", {**CASE, "change": "status", "window_id": "w-1"}),  # another change's key
    ("case.updated", {**CASE, "change": "agreed_window"}),  # that change's keys missing
    ("callback.done", {"callback_id": "cb", "due_at": "2026-01-02T03:04:05"}),  # naive time, keys missing
    ("token.revoked", {"user_id": "u"}),
])
def test_a_payload_unlike_its_model_fails(type_: str, payload: dict[str, object]) -> None:
    with pytest.raises(EventContractBroken):
        check(type_, payload)
