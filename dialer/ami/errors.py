"""Errors raised by the AMI protocol library (no domain meaning: the dialer translates them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialer.ami.parser import AmiMessage


class AmiError(Exception):
    """Base class of every AMI library error."""


class AmiInjectionError(AmiError, ValueError):
    """An action key or value would break AMI framing (CR, LF, NUL, or ':' in a key)."""


class AmiNotConnected(AmiError):
    """The client is not logged in to the PBX right now; nothing was sent."""


class AmiConnectionLost(AmiError):
    """The connection dropped while an action was pending; its outcome is unknown."""


class AmiActionTimeout(AmiError, TimeoutError):
    """No response to an action arrived in time; its outcome is unknown."""


class AmiLoginError(AmiError):
    """The PBX refused the Login action (bad username/secret or ACL)."""


class AmiActionError(AmiError):
    """The PBX answered an action with `Response: Error`."""

    def __init__(self, message: str, response: AmiMessage) -> None:
        super().__init__(message)
        self.message = message
        self.response = response
