"""Asyncio controller for the phones process: ``async with PhonesProcess(config) as phones``.

Spawns the pjsua2 phones process (``python -m sandbox.phones``: a separate process, started by module
name and never imported, since pjsua2 is an optional GPL extra), waits for ``ready`` and for every
non-offline agent to be ``registered``, records every event, and lets callers ``wait_for`` an event
matching fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sip.config import PhonesConfig
from sip.protocol import Message, ProtocolError, decode, encode, matches

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNER = "sandbox.phones"  # the module run as the phones process (python -m)


class PhonesError(RuntimeError):
    """The phones process died, failed to start, or an awaited event never came."""


class PhonesProcess:
    """A running phones process (see module doc). ``events`` holds every event received so far."""

    def __init__(
        self, config: PhonesConfig, *, start_timeout: float = 20.0, python: str | None = None,
        runner: str = RUNNER,
    ) -> None:
        self.config, self.runner = config, runner
        self.events: list[Message] = []
        self._start_timeout = start_timeout
        self._python = python or sys.executable
        self._proc: asyncio.subprocess.Process | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.stderr_tail: list[str] = []

    async def __aenter__(self) -> Self:
        self._tmpdir = tempfile.TemporaryDirectory(prefix="callguard-phones-")
        config_path = Path(self._tmpdir.name) / "phones.json"
        config_path.write_text(self.config.to_json(), encoding="utf-8")
        self._proc = await asyncio.create_subprocess_exec(
            self._python, "-m", self.runner, "--config", str(config_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(REPO_ROOT),
        )
        self._reader_task = asyncio.create_task(self._read_events(), name="phones-stdout-reader")
        self._stderr_task = asyncio.create_task(self._read_stderr(), name="phones-stderr-reader")
        try:
            await self.wait_for("ready", timeout=self._start_timeout)
            for agent in self.config.agents:
                if agent.behaviour != "offline":
                    await self.wait_for("registered", user=agent.sip_user, timeout=self._start_timeout)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def send(self, command: Message) -> None:
        """Send one command (``{"cmd": ...}``) to the process."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise PhonesError("phones process is not running")
        proc.stdin.write(encode(command).encode())
        await proc.stdin.drain()

    async def dial(self, phone: str, number: str, *, caller: str | None = None, **fields: Any) -> Message:
        """``phone`` calls ``number`` at the PBX (``caller``: the number in its From header, for the customer
        line calling in); returns the ``calling`` event (its ``call`` is the key for ``dtmf``/``tone``/``hangup``)."""
        request = uuid.uuid4().hex
        command: Message = {"cmd": "call", "phone": phone, "request": request,
                            "uri": f"sip:{number}@{self.config.pbx_host}:{self.config.pbx_port}", **fields}
        if caller is not None:
            command["caller"] = caller
        mark = self.mark()
        await self.send(command)
        return await self.wait_for("calling", request=request, since=mark)

    def find(self, event: str, *, since: int = 0, **match: Any) -> Message | None:
        """First recorded event (index >= since) named ``event`` whose fields match."""
        for message in self.events[since:]:
            if message.get("event") == event and matches(message, match):
                return message
        return None

    async def wait_for(
        self,
        event: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call deadline is the point of this helper
        since: int = 0,
        **match: Any,
    ) -> Message:
        """Wait for (or return an already received) event matching ``match``; PhonesError on timeout."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    found = self.find(event, since=since, **match)
                    if found is not None:
                        return found
                    if self._reader_task is None or self._reader_task.done():
                        raise PhonesError(f"phones process ended while waiting for {event} {match}: "
                                          f"{self._stderr_excerpt()}")
                    await self._changed.wait()
        except TimeoutError as exc:
            raise PhonesError(f"no {event!r} event matching {match} within {timeout}s; "
                              f"last events: {self.events[-5:]}") from exc

    def mark(self) -> int:
        """Index to pass as ``since=`` to only see events received after this point."""
        return len(self.events)

    async def _read_events(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        while line := await stdout.readline():
            try:
                message = decode(line.decode("utf-8", errors="replace"))
            except ProtocolError:
                log.warning("phones process printed a non-protocol line: %r", line[:200])
                continue
            async with self._changed:
                self.events.append(message)
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        stderr = self._proc.stderr
        while line := await stderr.readline():
            self.stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())
            del self.stderr_tail[:-50]

    def _stderr_excerpt(self) -> str:
        return "\n".join(self.stderr_tail[-20:])

    async def _stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(PhonesError, ConnectionError):
                await self.send({"cmd": "quit"})
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in (self._reader_task, self._stderr_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
