"""A scripted fake AMI server (real asyncio TCP on 127.0.0.1) for fault-injection tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dialer.ami import AmiMessage, AmiParser

Handler = Callable[["FakeConn", AmiMessage], Awaitable[None] | None]


def frame(*fields: tuple[str, str]) -> bytes:
    """Encode one AMI message as Asterisk would send it."""
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()


class FakeConn:
    """One client connection to the fake server."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def send(self, *fields: tuple[str, str]) -> None:
        self.writer.write(frame(*fields))

    def reply(self, action: AmiMessage, response: str = "Success", *extra: tuple[str, str]) -> None:
        self.send(("Response", response), ("ActionID", action.action_id or ""), *extra)

    def close(self) -> None:
        self.writer.close()


class FakeAmi:
    """Answers Login and Ping by default; `handler` sees every other action; records all actions."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.actions: list[AmiMessage] = []
        self.conns: list[FakeConn] = []
        self.answer_pings = True
        self.logins = 0
        self.new_action = asyncio.Condition()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> FakeAmi:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for c in self.conns:
            c.writer.transport.abort()
        await self.server.wait_closed()

    def count(self, name: str) -> int:
        return sum(1 for a in self.actions if a.get("Action") == name)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self.new_action:
            await self.new_action.wait_for(predicate)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = FakeConn(writer)
        self.conns.append(conn)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        parser = AmiParser()
        try:
            while data := await reader.read(4096):
                for action in parser.feed(data):
                    await self._handle(conn, action)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(self, conn: FakeConn, action: AmiMessage) -> None:
        name = action.get("Action")
        async with self.new_action:
            self.actions.append(action)
            self.new_action.notify_all()
        if name == "Login":
            self.logins += 1
            if action.get("Secret") == "s3cret":
                conn.reply(action, "Success", ("Message", "Authentication accepted"))
                conn.send(("Event", "FullyBooted"), ("Status", "Fully Booted"))
            else:
                conn.reply(action, "Error", ("Message", "Authentication failed"))
            return
        if name == "Ping":
            if self.answer_pings:
                conn.reply(action, "Success", ("Ping", "Pong"), ("Timestamp", "1.0"))
            return
        if self.handler is not None:
            result = self.handler(conn, action)
            if result is not None:
                await result
