"""A loopback TCP proxy that can cut a connection on demand (fault injection: the real PBX cannot
drop one AMI connection while staying up). It also counts AMI Originate actions passing through."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class TcpProxy:
    """``async with TcpProxy(host, port) as p``: connect to ``p.port``; ``await p.cut()`` severs every
    connection and refuses new ones until ``p.resume()``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.upstream = bytearray()
        self._accepting = True
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._cut_before_originate_response = False
        self.cut_done = asyncio.Event()

    @property
    def originates(self) -> int:
        """How many Originate actions the client sent through the proxy."""
        return bytes(self.upstream).count(b"Action: Originate\r\n")

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._accepting = False
        for a, b in list(self._conns):
            for w in (a, b):
                w.transport.abort()
        self._conns.clear()

    def cut_before_the_originate_response(self) -> None:
        """Cut once the PBX has answered the next Originate, before the client sees that answer (its fate is
        then unknown to the client, while the PBX goes on with the call); ``cut_done`` is set then."""
        self._cut_before_originate_response = True
        self.cut_done.clear()

    def resume(self) -> None:
        """Accept connections again."""
        self._accepting = True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._accepting:
            writer.transport.abort()
            return
        try:
            ureader, uwriter = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._conns.add((writer, uwriter))
        up = asyncio.create_task(self._pipe(reader, uwriter, record=True))
        down = asyncio.create_task(self._pipe(ureader, writer, record=False))
        self._tasks.update((up, down))
        await asyncio.gather(up, down, return_exceptions=True)
        self._tasks.difference_update((up, down))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if record:
                    self.upstream += data
                elif self._cut_before_originate_response and b"Originate successfully queued" in data:
                    self._cut_before_originate_response = False
                    await self.cut()
                    self.cut_done.set()
                    return
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
