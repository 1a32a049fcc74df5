"""Domain errors and the one error shape every HTTP answer uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.i18n import render
from core.messages import DEFAULT_LANGUAGE, LANGUAGES, Language


class CallguardError(Exception):
    """Base of every error that reaches the edge: HTTP status, stable machine code, human message.

    ``message`` is the raise site's English sentence ("" for the catalogue's); the zh-CN one comes from the
    catalogue (``core.messages``), filled from ``details``. ``texts`` gives both languages' sentences when the
    raise site words them itself (the gate's explanations).
    """

    status: int = 500
    code: str = "internal-error"

    def __init__(self, message: str = "", *, details: dict[str, Any] | None = None, code: str | None = None,
                 status: int | None = None, texts: Mapping[Language, str] | None = None) -> None:
        self.details = details or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.message = message or render(self.code, self.details, "en")
        self.texts = dict(texts or {})
        super().__init__(self.message)

    def messages(self) -> dict[Language, str]:
        """The message in every language: the raise site's own words first, else the catalogue's."""
        out: dict[Language, str] = {lang: render(self.code, self.details, lang) for lang in LANGUAGES}
        out["en"] = self.message
        out.update(self.texts)
        return out

    def to_body(self, language: Language = DEFAULT_LANGUAGE) -> dict[str, Any]:
        """The JSON body: {"error": {"code", "message" (in ``language``), "messages" (all), "details"}}."""
        messages = self.messages()
        return {"error": {"code": self.code, "message": messages[language], "messages": messages,
                          "details": self.details}}


class BadRequest(CallguardError):
    status = 400
    code = "bad-request"


class ValidationFailed(CallguardError):
    status = 422
    code = "validation-failed"


class NotFound(CallguardError):
    status = 404
    code = "not-found"


class Conflict(CallguardError):
    status = 409
    code = "conflict"


class Unauthorized(CallguardError):
    status = 401
    code = "unauthorized"


class Forbidden(CallguardError):
    status = 403
    code = "forbidden"


class UpstreamUnavailable(CallguardError):
    """An upstream (PBX, storage, database, case system) is down: 503 naming it."""

    status = 503
    code = "upstream-unavailable"

    def __init__(self, upstream: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"upstream": upstream, **(details or {})})
        self.upstream = upstream


#: where a release that needs two people is asked for (``api/approvals.py``)
RELEASE_REQUEST_ROUTE = "POST /v1/release-requests"


class TwoPersonRule(Conflict):
    """A legal hard stop or a legal hold is lifted only by two different people (or by the case system).

    The details name the request route and the body that asks for the release.
    """

    code = "two-person-rule"

    def __init__(self, message: str, *, request: dict[str, Any]) -> None:
        super().__init__(message, details={"request_route": RELEASE_REQUEST_ROUTE, "request": request})
