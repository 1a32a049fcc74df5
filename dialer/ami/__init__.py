"""AMI (Asterisk Manager Interface) protocol library: pure parser + asyncio client. Knows no calls."""

from dialer.ami.client import AmiClient, AmiPongTimeout
from dialer.ami.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiConnectionLost,
    AmiError,
    AmiInjectionError,
    AmiLoginError,
    AmiNotConnected,
)
from dialer.ami.parser import AmiMessage, AmiParser, encode_action

__all__ = [
    "AmiActionError",
    "AmiActionTimeout",
    "AmiClient",
    "AmiConnectionLost",
    "AmiError",
    "AmiInjectionError",
    "AmiLoginError",
    "AmiMessage",
    "AmiNotConnected",
    "AmiParser",
    "AmiPongTimeout",
    "encode_action",
]
