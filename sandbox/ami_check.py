"""Minimal AMI helpers for the sandbox: wait until Asterisk accepts a Login and is fully booted.

Deliberately tiny (the real client lives in ``dialer/ami/``): one connection, one Login, read
messages until ``FullyBooted`` or a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib

Message = dict[str, str]


class AmiLoginError(RuntimeError):
    """AMI answered the Login with something other than Success."""


def parse_message(block: bytes) -> Message:
    """Parse one AMI message (CRLF-separated ``Key: value`` lines) into a dict (last key wins). Each of the
    repeated ``XChanVariable: NAME=value`` lines (one per manager.conf channelvar) is also kept as
    ``XChanVariable(NAME)``."""
    message: Message = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            key, value = key.strip(), value.strip()
            message[key] = value
            if key.endswith("ChanVariable"):
                name, _, var = value.partition("=")
                message[f"{key}({name})"] = var
    return message


def format_action(action: str, **fields: str) -> bytes:
    """Serialise an AMI action (keyword ``Foo_Bar`` is sent as header ``Foo_Bar``)."""
    lines = [f"Action: {action}"] + [f"{key}: {value}" for key, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_message(reader: asyncio.StreamReader) -> Message:
    """Read one AMI message (up to the blank line)."""
    return parse_message(await reader.readuntil(b"\r\n\r\n"))


async def login_and_wait_booted(host: str, port: int, user: str, secret: str) -> None:
    """Log in and wait for ``FullyBooted``; raises OSError/AmiLoginError (wrap in a timeout)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await reader.readline()  # banner: "Asterisk Call Manager/x.y.z"
        writer.write(format_action("Login", Username=user, Secret=secret, ActionID="sandbox-login"))
        await writer.drain()
        while True:
            message = await read_message(reader)
            if message.get("ActionID") == "sandbox-login":
                if message.get("Response") != "Success":
                    raise AmiLoginError(message.get("Message", "login refused"))
            elif message.get("Event") == "FullyBooted":
                return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

