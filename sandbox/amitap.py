"""A tiny raw AMI client for sandbox tests and trace capture (the real one lives in dialer/ami/).

Keeps the raw bytes received (for trace fixtures) and every parsed message, matches responses by
ActionID, and lets a test wait for an event matching some fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any, Self

from sandbox.ami_check import format_action, parse_message

Message = dict[str, str]


class AmiTap:
    """``async with AmiTap(host, port, user, secret) as ami``."""

    def __init__(self, host: str, port: int, user: str, secret: str) -> None:
        self.host, self.port, self.user, self.secret = host, port, user, secret
        self.raw = bytearray()
        self.messages: list[Message] = []
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.closed = False

    async def __aenter__(self) -> Self:
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        banner = await reader.readline()
        self.raw += banner
        self._task = asyncio.create_task(self._read(reader), name="amitap-reader")
        response = await self.action("Login", Username=self.user, Secret=self.secret)
        if response.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {response}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                self.raw += block
                async with self._changed:
                    self.messages.append(parse_message(block))
                    self._changed.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            async with self._changed:
                self.closed = True
                self._changed.notify_all()

    async def send(self, action: str, **fields: str) -> str:
        """Send an action; return its ActionID."""
        action_id = f"t{next(self._ids)}"
        assert self._writer is not None
        self._writer.write(format_action(action, ActionID=action_id, **fields))
        await self._writer.drain()
        return action_id

    async def action(self, action: str, within: float = 10.0, **fields: str) -> Message:
        """Send an action and wait for its Response."""
        action_id = await self.send(action, **fields)
        return await self.wait(lambda m: m.get("ActionID") == action_id and "Response" in m, within=within)

    async def collect_list(self, action: str, complete_event: str, within: float = 10.0,
                           **fields: str) -> list[Message]:
        """Run a list action; return the events up to ``complete_event`` (same ActionID)."""
        action_id = await self.send(action, **fields)
        await self.wait(lambda m: m.get("ActionID") == action_id and m.get("Event") == complete_event,
                        within=within)
        return [m for m in self.messages if m.get("ActionID") == action_id and "Event" in m
                and m["Event"] != complete_event]

    def find(self, predicate: Callable[[Message], bool], since: int = 0) -> Message | None:
        """First message (index >= since) satisfying predicate."""
        return next((m for m in self.messages[since:] if predicate(m)), None)

    async def wait(self, predicate: Callable[[Message], bool], within: float = 10.0,
                   since: int = 0) -> Message:
        """Wait for a message satisfying predicate (already received ones count)."""
        async with asyncio.timeout(within), self._changed:
            while True:
                found = self.find(predicate, since)
                if found is not None:
                    return found
                if self.closed:
                    raise ConnectionError("AMI connection closed")
                await self._changed.wait()

    async def wait_event(self, event: str, within: float = 10.0, since: int = 0,
                         **match: Any) -> Message:
        """Wait for an event with the given name and field values."""
        return await self.wait(
            lambda m: m.get("Event") == event and all(m.get(k) == v for k, v in match.items()),
            within=within, since=since)

    def events(self, **match: str) -> list[Message]:
        """All events matching the given fields."""
        return [m for m in self.messages if "Event" in m and all(m.get(k) == v for k, v in match.items())]


def events_of_call(messages: list[Message], call_id: str, classes: frozenset[str] | None = None) -> Counter[str]:
    """The events of call ``call_id`` (its Linkedid or Uniqueid) by name; with ``classes``, only events of those AMI
    read classes (their ``Privilege`` header), i.e. what an account reading only those classes would receive."""
    return Counter(m["Event"] for m in messages if "Event" in m and call_id in (m.get("Linkedid"), m.get("Uniqueid"))
                   and (classes is None or classes & set(m.get("Privilege", "").split(","))))
