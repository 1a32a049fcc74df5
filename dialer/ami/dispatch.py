"""In-order delivery of AMI events and connection changes to listeners, off the socket reader."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dialer.ami.parser import AmiMessage

EventCallback = Callable[[AmiMessage], Awaitable[None] | None]
RunCallback = Callable[[list[AmiMessage]], Awaitable[None] | None]
ConnectionCallback = Callable[[bool], Awaitable[None] | None]
#: the most events one run holds (a run: the events queued at the moment delivery resumes)
MAX_RUN = 64


@dataclass(slots=True, eq=False)
class _Listener:
    callback: EventCallback | RunCallback
    events: frozenset[str] | None
    run: bool = False  # called once per run with its events (in order) instead of once per event


class Dispatcher:
    """One task per client delivers events, in order, to each listener; callbacks never kill it.

    The reader only appends to a deque (bounded for events: on overflow events are dropped and
    logged); connection changes are never dropped and keep their place among the events.

    With a run listener (``add_run_listener``) delivery goes by *runs*: the events queued when delivery
    resumes (at most ``MAX_RUN``, never across a connection change). Each listener in turn gets the run's
    events it asked for: a run listener in one call (it may share work between events that arrived together,
    and should be the only listener of the events it takes), any other listener one call per event. Without
    run listeners every event goes to each listener in turn before the next event.
    """

    def __init__(self, *, name: str, logger: logging.Logger, max_queued: int) -> None:
        self._name = name
        self._log = logger
        self._max = max_queued
        self._queue: deque[AmiMessage | bool] = deque()
        self._wakeup = asyncio.Event()
        self._listeners: list[_Listener] = []
        self._conn_listeners: list[ConnectionCallback] = []
        self._overflowing = False
        self.dropped = 0

    def add_listener(self, callback: EventCallback, events: Iterable[str] | None) -> Callable[[], None]:
        """Register an event callback (optionally only for these event names); return its remover."""
        entry = _Listener(callback, frozenset(events) if events is not None else None)
        self._listeners = [*self._listeners, entry]

        def remove() -> None:
            self._listeners = [x for x in self._listeners if x is not entry]

        return remove

    @property
    def backlog(self) -> int:
        """Events received and not yet handed to the listeners (connection changes included)."""
        return len(self._queue)

    def add_run_listener(self, callback: RunCallback, events: Iterable[str] | None) -> Callable[[], None]:
        """Register a callback given each run's events (optionally only these names), in order, as one list;
        never called with an empty list. Returns its remover."""
        entry = _Listener(callback, frozenset(events) if events is not None else None, run=True)
        self._listeners = [*self._listeners, entry]

        def remove() -> None:
            self._listeners = [x for x in self._listeners if x is not entry]

        return remove

    def add_connection_listener(self, callback: ConnectionCallback) -> Callable[[], None]:
        """Register a callback told `True` when the client logs in and `False` when it goes down."""
        self._conn_listeners = [*self._conn_listeners, callback]

        def remove() -> None:
            self._conn_listeners = [x for x in self._conn_listeners if x is not callback]

        return remove

    def push_event(self, message: AmiMessage) -> None:
        """Queue an event for the listeners (called by the reader; never blocks)."""
        if len(self._queue) >= self._max:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                self._log.error(
                    "AMI %s: listener queue full (%d); dropping events until listeners catch up",
                    self._name,
                    self._max,
                )
            return
        if self._overflowing and len(self._queue) < self._max // 2:
            self._overflowing = False
            self._log.warning(
                "AMI %s: listeners caught up; %d events dropped so far", self._name, self.dropped
            )
        self._queue.append(message)
        self._wakeup.set()

    def push_connection(self, connected: bool) -> None:
        """Queue a connection change for the connection listeners (never dropped)."""
        self._queue.append(connected)
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver queued items forever (cancel to stop)."""
        queue = self._queue
        while True:
            while queue:
                item = queue.popleft()
                if isinstance(item, bool):
                    for conn_cb in self._conn_listeners:
                        await self._call(conn_cb, item, "connection listener")
                    continue
                run = [item]
                limit = MAX_RUN if any(x.run for x in self._listeners) else 1
                while queue and len(run) < limit:
                    head = queue[0]
                    if isinstance(head, bool):
                        break  # a connection change keeps its place
                    run.append(head)
                    queue.popleft()
                for listener in self._listeners:
                    wanted = run if listener.events is None else [m for m in run if m.name in listener.events]
                    if not wanted:
                        continue
                    if listener.run:
                        await self._call(listener.callback, wanted, "run listener")
                        continue
                    for message in wanted:
                        await self._call(listener.callback, message, "event listener")
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _call(self, callback: Callable[[Any], Awaitable[None] | None], arg: object, what: str) -> None:
        try:
            result = callback(arg)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged with traceback; delivery must go on
            # A buggy listener must never stop delivery to the others nor touch the connection.
            self._log.exception("AMI %s: %s %r raised", self._name, what, callback)

