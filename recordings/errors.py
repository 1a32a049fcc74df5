"""Recording domain errors (HTTP status + stable code)."""

from __future__ import annotations

from core.errors import CallguardError, Conflict, Forbidden, NotFound, UpstreamUnavailable, ValidationFailed
from recordings.storage.errors import RetentionActive

__all__ = ["InvalidTransition", "NoSuchRecording", "NotFailed", "NotStored", "PauseNotAllowed",
           "ProbeUnavailable", "RecordingAccessDenied", "RecordingIdRequired", "RetentionActive"]


class NoSuchRecording(NotFound):
    """No recording with that id (or not visible to the caller)."""

    code = "no-such-recording"


class RecordingAccessDenied(Forbidden):
    """The caller may not see or hear this recording."""

    code = "recording-access-denied"


class RecordingIdRequired(ValidationFailed):
    """A reader of the access log who is not an admin named no recording: they read one recording's log."""

    code = "recording-id-required"


class NotStored(Conflict):
    """The recording has no stored audio (still pending, empty, failed or purged)."""

    code = "recording-not-stored"


class NotFailed(Conflict):
    """An operator retry of a recording whose ingest has not ended in ``failed``."""

    code = "recording-not-failed"


class InvalidTransition(Conflict):
    """A state change the recording state machine does not allow."""

    code = "invalid-recording-transition"


class PauseNotAllowed(Conflict):
    """The client's policy does not allow pausing recordings (or nothing to pause/resume)."""

    code = "recording-pause-not-allowed"


class ProbeUnavailable(UpstreamUnavailable):
    """The probe phone cannot run (pjsua2 missing, no probe account configured)."""

    code = "probe-unavailable"

    def __init__(self, message: str) -> None:
        super().__init__("probe-phone", message)


class IngestFault(CallguardError):
    """Raised by a fault injected in tests at a named ingest step (never in production)."""

    code = "ingest-fault"
