"""Domain errors of the compliance gate and its administration (one error shape: ``core.errors``)."""

from __future__ import annotations

from core.errors import CallguardError, Forbidden, NotFound, ValidationFailed


class CallBlockedError(CallguardError):
    """409: the gate blocked the dial; ``code`` is the primary rule's code."""

    status = 409


class NoSuchCase(ValidationFailed):
    """The dial names a case that does not exist."""

    code = "no-such-case"


class ManualDialNotAllowed(Forbidden):
    """403: the number belongs to no case, and only a supervisor or admin may dial such a number."""

    code = "manual-dial-not-allowed"


class NoSuchDecision(NotFound):
    """No decision with that id in the decision log."""

    code = "no-such-decision"


class NoSuchPolicy(NotFound):
    """The client has no stored policy."""

    code = "no-such-policy"


class NoSuchDoNotCallEntry(NotFound):
    """No do-not-call entry with that kind and value."""

    code = "no-such-entry"


class RetentionBelowFloor(ValidationFailed):
    """A client's recording retention may not be shorter than the configured floor."""

    code = "retention-below-floor"


class NoSuchClient(NotFound):
    """The caller serves no client with that id (another bank's answers exactly like an unknown one)."""

    code = "no-such-client"


class ClientRequired(ValidationFailed):
    """The caller serves several clients: the request must name one."""

    code = "client-required"
