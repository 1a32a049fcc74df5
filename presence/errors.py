"""Errors of agent presence."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class NoSuchAgent(NotFound):
    """No agent with that id, or not one the caller may see."""

    code = "agent-not-found"


class StateNotSettable(ValidationFailed):
    """Only ``available``, ``paused`` (with a pause code) and ``offline`` may be asked for; the others follow calls."""

    code = "state-not-settable"


class UnknownPauseCode(ValidationFailed):
    """A pause needs one of the configured pause codes (``presence.pause_codes``)."""

    code = "unknown-pause-code"


class AgentNotAvailable(Conflict):
    """A dial for an agent who is paused or offline: refused before the compliance gate, nothing is dialled."""

    code = "agent-not-available"
