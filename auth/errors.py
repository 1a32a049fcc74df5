"""Errors of authentication and of user and token administration."""

from __future__ import annotations

from typing import Any

from core.errors import CallguardError, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed


class UnknownToken(Unauthorized):
    """No such token."""

    code = "unknown-token"


class TokenExpired(Unauthorized):
    """The token's lifetime is over."""

    code = "token-expired"


class TokenRevoked(Unauthorized):
    """The token was revoked."""

    code = "token-revoked"


class UserDeactivated(Unauthorized):
    """The token's user is deactivated."""

    code = "user-deactivated"


class QueryTokenRefused(Unauthorized):
    """A long-lived token in the query string (it would land in logs and browser history)."""

    code = "query-token-refused"


class InvalidTicket(Unauthorized):
    """An EventSource ticket that is unknown, used, expired or for another purpose (one code for all)."""

    code = "invalid-ticket"

    def __init__(self, message: str, *, reason: str = "invalid-ticket") -> None:
        super().__init__(message)
        self.reason = reason  # recorded: "unknown-ticket" (a guess, throttled) or "invalid-ticket"


class TooManyFailedSignIns(CallguardError):
    """Too many failed authentications from this address: refused for a while (429 with Retry-After)."""

    status = 429
    code = "too-many-failed-sign-ins"

    def __init__(self, retry_after_s: int, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"too many failed sign-ins from this address; retry in {retry_after_s} s",
                         details={"retry_after_s": retry_after_s, **(details or {})})
        self.retry_after_s = retry_after_s


class NoSuchUser(NotFound):
    code = "no-such-user"


class NoSuchToken(NotFound):
    code = "no-such-token"


class UserExists(Conflict):
    code = "user-exists"


class SipUserTaken(Conflict):
    code = "sip-user-taken"


class InvalidClients(ValidationFailed):
    """The user's client list does not fit its role."""

    code = "invalid-clients"


class SignInFailed(Unauthorized):
    """No such user, no password set, or a wrong password (one code for all: usernames are not revealed)."""

    code = "sign-in-failed"


class SessionExpired(Unauthorized):
    """A console session idle for longer than ``auth.session_idle_s``."""

    code = "session-expired"


class CsrfTokenInvalid(CallguardError):
    """A state-changing request made with the session cookie lacks the session's CSRF token (X-CSRF-Token)."""

    status = 403
    code = "csrf-token-invalid"


class WrongPassword(Forbidden):
    """The old password given to change one's own password is wrong (recorded as a failed sign-in)."""

    code = "wrong-password"


class WeakPassword(ValidationFailed):
    """A password shorter than ``auth.password_min_length`` or made of one repeated character."""

    code = "weak-password"
