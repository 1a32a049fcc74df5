"""Errors of the two-person rule (each maps to one HTTP status and a stable code)."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class NoSuchReleaseRequest(NotFound):
    """No such request, or one of a client the caller does not serve (answered alike)."""

    code = "no-such-release-request"


class SamePerson(Conflict):
    """The approver asked for the release: two different people are needed."""

    code = "same-person"


class RequestExpired(Conflict):
    """The request was not decided in time; ask again."""

    code = "release-request-expired"


class RequestDecided(Conflict):
    """The request was already approved or rejected (a request is used once)."""

    code = "release-request-decided"


class AlreadyRequested(Conflict):
    """A pending request for the same release exists (its id is in the details)."""

    code = "release-already-requested"


class NothingToRelease(Conflict):
    """The hold, do-not-call status or legal hold is not (or no longer) there."""

    code = "nothing-to-release"
