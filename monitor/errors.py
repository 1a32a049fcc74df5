"""Errors of supervisor monitoring."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class NoSuchMonitorSession(NotFound):
    """No monitoring session with that id on that call (or not the caller's to change)."""

    code = "no-such-monitor-session"


class CallNotLive(Conflict):
    """The call has no answered agent leg yet: there is nothing to join."""

    code = "call-not-live"


class MonitorNoPhone(ValidationFailed):
    """The supervisor has no phone (``sip_user``) for the PBX to ring."""

    code = "monitor-no-phone"


class MonitorAlreadyOpen(Conflict):
    """The supervisor already has an open session on this call."""

    code = "monitor-already-open"


class MonitorNotActive(Conflict):
    """The session's phone has not answered yet, or the session has ended: its mode cannot change."""

    code = "monitor-not-active"
