"""Errors of the cases domain (each maps to one HTTP status and a stable code)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class NoSuchCase(NotFound):
    """No case with that id (or external id for that client)."""

    code = "no-such-case"


class NoSuchClient(NotFound):
    """The caller serves no client with that id (another bank's client answers exactly like an unknown one)."""

    code = "no-such-client"


class NoSuchContact(NotFound):
    """The number is not a contact of the case."""

    code = "no-such-contact"


class NoSuchWindow(NotFound):
    """No agreed window with that id on the case."""

    code = "no-such-window"


class BadHoldReason(ValidationFailed):
    """The hold reason is not one of the known reasons."""

    code = "bad-hold-reason"


class DispositionExists(Conflict):
    """A disposition was already recorded for the call (dispositions never change)."""

    code = "disposition-already-recorded"


class NotYourCall(Forbidden):
    """An agent may record dispositions only for their own calls."""

    code = "not-your-call"


class WindowEvidenceRequired(Conflict):
    """An agreed window needs evidence: the case system, or the answered, recorded call it was agreed on."""

    code = "window-evidence-required"


class WindowEvidenceRejected(Conflict):
    """The call named as a window's evidence does not prove it (``details.reason`` says why)."""

    code = "window-evidence-rejected"


class WindowExpiryTooFar(ValidationFailed):
    """An agreed window may not last longer than the configured maximum."""

    code = "window-expiry-too-far"


class CaseClosed(Conflict):
    """The change is not possible on a closed or paid case."""

    code = "case-closed"


class OutsideTeam(Forbidden):
    """A team's supervisor may not move a case to another team."""

    code = "outside-team"
