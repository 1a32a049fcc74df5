"""The phones process proper: runs the pjsua shards and the customer relay, speaks the JSON protocol.

``python -m sandbox.phones --config FILE`` starts one ``--shard`` subprocess per ``plan_shards`` entry,
binds ``CustomerRelay`` on ``customer_port``, forwards shard events to stdout (one aggregated
``ready``/``stopped``) and routes stdin commands to the shard that hosts the phone (customer-line
commands go to every customer shard; a customer ``call`` to the least loaded one).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.phones.relay import CustomerRelay
from sandbox.phones.shards import Shard, plan_shards
from sip.config import PJSUA_MAX_CALLS, PhonesConfig
from sip.protocol import Message, ProtocolError, decode, decode_command, encode, event

CUSTOMER = "customer"
Emit = Callable[[Message], None]


class _Running:
    """A started shard subprocess."""

    def __init__(self, shard: Shard, proc: asyncio.subprocess.Process) -> None:
        self.shard = shard
        self.proc = proc
        self.ready: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.reader: asyncio.Task[None] | None = None

    async def send(self, command: Message) -> None:
        if self.proc.stdin is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(encode(command).encode())
            await self.proc.stdin.drain()


class Supervisor:
    """See module doc; ``await run()`` returns when told to quit (stdin EOF, ``quit``, SIGTERM)."""

    def __init__(self, config: PhonesConfig, emit: Emit, *, python: str | None = None) -> None:
        self.config = config
        self._emit = emit
        self._python = python or sys.executable
        self._shards: list[_Running] = []
        self._relay = CustomerRelay(PJSUA_MAX_CALLS)
        self._quit = asyncio.Event()

    async def run(self) -> int:
        """Start everything, serve until quit, stop everything."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._quit.set)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self._relay, local_addr=("127.0.0.1", self.config.customer_port))
        stdin_task: asyncio.Task[None] | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="callguard-phone-shards-") as tmp:
                if await self._start_shards(Path(tmp)):
                    stdin_task = asyncio.create_task(self._read_stdin(), name="phones-supervisor-stdin")
                    await self._quit.wait()
                await self._stop_shards()
        finally:
            if stdin_task is not None:
                stdin_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stdin_task
            transport.close()
            self._emit(event("stopped"))
        return 0

    async def _start_shards(self, tmp: Path) -> bool:
        for shard in plan_shards(self.config):
            path = tmp / f"{shard.name}.json"
            path.write_text(shard.config.to_json(), encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                self._python, "-m", "sandbox.phones", "--shard", "--config", str(path),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            running = _Running(shard, proc)
            running.reader = asyncio.create_task(self._read_shard(running), name=f"phones-shard-{shard.name}")
            self._shards.append(running)
        waiter: asyncio.Future[list[Message]] = asyncio.gather(*(s.ready for s in self._shards))
        quit_wait = asyncio.create_task(self._quit.wait(), name="phones-supervisor-quit-wait")
        try:
            pending: list[asyncio.Future[Any]] = [waiter, quit_wait]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            quit_wait.cancel()
        if not waiter.done() or waiter.exception() is not None:
            waiter.cancel()
            return False
        readies = waiter.result()
        self._relay.state.set_workers([("127.0.0.1", int(r["customer_port"]))
                                       for s, r in zip(self._shards, readies, strict=True) if s.shard.customer])
        agent_ports = [int(r["agent_port"]) for s, r in zip(self._shards, readies, strict=True) if not s.shard.customer]
        self._emit(event("ready", agent_port=agent_ports[0] if agent_ports else 0, agent_ports=agent_ports,
                         customer_port=self._relay.port, processes=len(self._shards)))
        return True

    async def _read_shard(self, running: _Running) -> None:
        stdout = running.proc.stdout
        assert stdout is not None
        while line := await stdout.readline():
            try:
                message = decode(line.decode("utf-8", errors="replace"))
            except ProtocolError:
                continue
            name = message.get("event")
            if name == "ready":
                if not running.ready.done():
                    running.ready.set_result(message)
                continue
            if name == "stopped":
                continue
            if name == "ended" and running.shard.customer and isinstance(message.get("call"), str):
                self._relay.release(message["call"])
            self._emit(message)
        await running.proc.wait()
        if not running.ready.done():
            running.ready.set_exception(RuntimeError(f"shard {running.shard.name} exited before ready"))
            running.ready.exception()  # retrieved: the gather reports it
        if not self._quit.is_set():
            self._emit(event("error", fatal=True, message=f"phones shard {running.shard.name} exited "
                                                           f"with code {running.proc.returncode}"))
            self._quit.set()

    async def _read_stdin(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if not line.strip():
                continue
            try:
                command = decode_command(line.decode("utf-8", errors="replace"))
            except ProtocolError as exc:
                self._emit(event("error", message=str(exc)))
                continue
            if command["cmd"] == "quit":
                break
            await self._route(command)
        self._quit.set()

    async def _route(self, command: Message) -> None:
        phone = command["phone"]
        if phone == CUSTOMER:
            targets = [s for s in self._shards if s.shard.customer]
            if command["cmd"] == "call":
                targets = targets[:1]
        else:
            targets = [s for s in self._shards if phone in s.shard.agents]
        if not targets:
            self._emit(event("error", cmd=command["cmd"], message=f"unknown phone {phone!r}"))
        for target in targets:
            await target.send(command)

    async def _stop_shards(self) -> None:
        for running in self._shards:
            await running.send({"cmd": "quit"})
        for running in self._shards:
            try:
                async with asyncio.timeout(8):
                    await running.proc.wait()
            except TimeoutError:
                running.proc.kill()
                await running.proc.wait()
            if running.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await running.reader


def main(config: PhonesConfig, output: Emit) -> int:
    """Run the supervisor on a fresh event loop."""
    return asyncio.run(Supervisor(config, output).run())
