"""Storage errors; S3 errors are translated into these in exactly one place (``s3._translate``)."""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest, CallguardError, Conflict, NotFound, UpstreamUnavailable


class StorageUnavailable(UpstreamUnavailable):
    """The storage backend cannot be reached or answered 5xx: 503 naming upstream ``storage``."""

    code = "storage-unavailable"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__("storage", message, details=details)


class StorageRefused(Conflict):
    """The storage backend refused the request (access denied, object lock, invalid request)."""

    code = "storage-refused"


class RetentionActive(StorageRefused):
    """Delete refused: the object is still under retention or legal hold."""

    code = "retention-active"


class ObjectNotFound(NotFound):
    """No object (or version) under that key."""

    code = "recording-object-not-found"


class InvalidKey(BadRequest):
    """A storage key that is not a safe relative path of ``[A-Za-z0-9/_.-]`` segments."""

    code = "invalid-storage-key"


class RangeNotSatisfiable(CallguardError):
    """A byte range that lies outside the object (HTTP 416)."""

    status = 416
    code = "range-not-satisfiable"


class IntegrityFailed(CallguardError):
    """Stored bytes do not hash to the expected SHA-256."""

    status = 500
    code = "recording-integrity-failed"
