"""Errors of the dialer domain."""

from __future__ import annotations

from core.errors import CallguardError, Conflict, Forbidden, NotFound, UpstreamUnavailable, ValidationFailed


class NoSuchCall(NotFound):
    """No call with that id (or not visible to the caller)."""

    code = "no-such-call"


class NoSuchAgent(ValidationFailed):
    """The agent does not exist or has no phone."""

    code = "no-such-agent"


class NotYourAgent(Forbidden):
    """An agent may dial only as themselves."""

    code = "not-your-agent"


class CallAlreadyEnded(Conflict):
    """The call has ended; nothing to hang up."""

    code = "call-ended"


class PbxUnavailable(UpstreamUnavailable):
    """The PBX cannot be reached (AMI down) or refused the action."""

    code = "pbx-unavailable"

    def __init__(self, pbx: str, message: str) -> None:
        super().__init__("pbx", message, details={"pbx": pbx})


class ServiceOverloaded(CallguardError):
    """503: this instance is behind on its PBXs' events, so it places no new call until it catches up."""

    status = 503
    code = "service-overloaded"
    retry_after_s = 1

    def __init__(self, backlog: int, limit: int) -> None:
        super().__init__(f"this service instance is behind on the PBX's events ({backlog} waiting, more than "
                         f"{limit}); retry in {self.retry_after_s} s",
                         details={"backlog": backlog, "limit": limit, "retry_after_s": self.retry_after_s})


class OriginateFateUnknown(Exception):
    """The AMI connection dropped after the Originate was written: never re-send, learn from events."""


class InvalidPresentedNumber(ValidationFailed):
    """A presented number is not an E.164 number (``+`` and 7 to 15 digits, valid for its country)."""

    code = "invalid-presented-number"


class NoPresentedNumbers(NotFound):
    """The client has no presented numbers: its calls present the PBX default."""

    code = "no-presented-numbers"


class PresentedNumberNotOwned(ValidationFailed):
    """A call asked to present a number that is not one of its client's presented numbers."""

    code = "presented-number-not-owned"


class InvalidMonitorTarget(ValidationFailed):
    """A value for a monitoring leg's AMI action is not of its strict form (nothing is sent)."""

    code = "invalid-monitor-target"


class NoSuchTransferTarget(ValidationFailed):
    """The transfer's target is not an active agent or supervisor with a phone inside the call's walls (its
    client, and its team for agents): answered like one that does not exist."""

    code = "no-such-transfer-target"


class CallNotTransferable(Conflict):
    """The call cannot be transferred now: not talking to the customer, already ended, a transfer under way,
    or the target already has the customer."""

    code = "call-not-transferable"
