"""An agent's presence as a pure function of facts, so that the order facts arrive in never matters.

Facts come from three sources: the agent (or its supervisor) says what it wants to do (``intent``: be
available, pause with a code, log out), the PBX says whether its phone is registered, and the agent's calls
say whether it is ringing, talking, or wrapping up until a deadline. The state is derived from them, with
the current time for the wrap-up deadline::

    a call ringing the agent's phone            -> ringing
    a call the agent answered, not yet ended    -> on_call
    phone known unregistered                    -> offline (reason phone_unregistered)
    intent logged_out                           -> offline (reason logged_out)
    wrap-up deadline in the future              -> wrap_up
    intent paused                               -> paused (with the pause code)
    otherwise                                   -> available

A phone the PBX has not reported on yet counts as registered (the service syncs every PBX's device states
when it connects and every ``presence.device_sync_interval_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class AgentState(StrEnum):
    """Where an agent is."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Intent(StrEnum):
    """What the agent (or its supervisor) chose."""

    AVAILABLE = "available"
    PAUSED = "paused"
    LOGGED_OUT = "logged_out"


class CallPhase(StrEnum):
    """How far the agent's current call is."""

    RINGING = "ringing"
    ON_CALL = "on_call"


SETTABLE = {AgentState.AVAILABLE: Intent.AVAILABLE, AgentState.PAUSED: Intent.PAUSED,
            AgentState.OFFLINE: Intent.LOGGED_OUT}
"""The states a person may ask for, and the intent each one records; the others follow calls and the PBX."""

NOT_DIALLABLE = frozenset({AgentState.OFFLINE, AgentState.PAUSED})
"""A dial for an agent in one of these states is refused (409) before the compliance gate runs."""


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """What is known about an agent's presence."""

    intent: Intent = Intent.AVAILABLE
    pause_code: str | None = None
    registered: bool | None = None  # None: the PBX has not told yet
    call_id: str | None = None  # the agent's current call, or its last one once ended
    call_phase: CallPhase | None = None
    wrap_up_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    """The derived state, with the pause code (``paused``) or the reason (``offline``)."""

    state: AgentState
    pause_code: str | None = None
    reason: str | None = None


def derive(f: AgentFacts, now: datetime) -> Presence:
    """The presence the facts give at ``now`` (pure)."""
    if f.call_phase is CallPhase.RINGING:
        return Presence(AgentState.RINGING)
    if f.call_phase is CallPhase.ON_CALL:
        return Presence(AgentState.ON_CALL)
    if f.registered is False:
        return Presence(AgentState.OFFLINE, reason="phone_unregistered")
    if f.intent is Intent.LOGGED_OUT:
        return Presence(AgentState.OFFLINE, reason="logged_out")
    if f.wrap_up_until is not None and f.wrap_up_until > now:
        return Presence(AgentState.WRAP_UP)
    if f.intent is Intent.PAUSED:
        return Presence(AgentState.PAUSED, pause_code=f.pause_code)
    return Presence(AgentState.AVAILABLE)


def choose(f: AgentFacts, intent: Intent, pause_code: str | None) -> AgentFacts:
    """The agent (or its supervisor) chooses: a new intent ends any wrap-up (the agent says it is done)."""
    return replace(f, intent=intent, pause_code=pause_code if intent is Intent.PAUSED else None, wrap_up_until=None)


def phone(f: AgentFacts, registered: bool) -> AgentFacts:
    """The PBX reports the phone. A registered phone that goes away logs the agent out, so registering
    again does not make it available until it says so."""
    if registered is False and f.registered is True:
        return replace(f, registered=False, intent=Intent.LOGGED_OUT, pause_code=None)
    return replace(f, registered=registered)


def call_rings(f: AgentFacts, call_id: str) -> AgentFacts:
    """A call rings the agent's phone (a newer call replaces an older one as the agent's current call)."""
    if f.call_id == call_id and f.call_phase is CallPhase.ON_CALL:
        return f  # a late ringing event of a call already answered
    return replace(f, call_id=call_id, call_phase=CallPhase.RINGING)


def call_answered(f: AgentFacts, call_id: str) -> AgentFacts:
    """The agent answered ``call_id``."""
    return replace(f, call_id=call_id, call_phase=CallPhase.ON_CALL, wrap_up_until=None)


def call_ended(f: AgentFacts, call_id: str, *, wrap_up_until: datetime | None) -> AgentFacts:
    """``call_id`` ended; ``wrap_up_until`` is set when the agent had answered it (else no wrap-up).

    The end of a call that is not the agent's current one, or of one already ended (a corrected call),
    changes nothing. The ended call stays the agent's last call (its disposition ends the wrap-up).
    """
    if f.call_id is not None and (f.call_id != call_id or f.call_phase is None):
        return f
    return replace(f, call_id=call_id, call_phase=None, wrap_up_until=wrap_up_until)


def disposed(f: AgentFacts, call_id: str) -> AgentFacts:
    """The disposition of ``call_id`` was saved: its wrap-up is over (a later call's wrap-up stays)."""
    if f.call_phase is None and f.wrap_up_until is not None and f.call_id == call_id:
        return replace(f, wrap_up_until=None)
    return f
