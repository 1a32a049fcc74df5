"""Tracked background tasks: every task named, referenced, and cancelled on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed; whether it is set.

    Not ``asyncio.wait_for(event.wait(), timeout)``: on Python 3.11 that returns normally when the event is
    set in the same loop turn as the waiting task is cancelled, so the cancellation is lost and a loop built
    on it never stops (seen as the webhook dispatcher hanging on shutdown). ``asyncio.timeout`` tells its own
    expiry from a cancellation from outside and lets the latter through.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


class TaskGroup:
    """Owns long-running tasks; ``async with`` cancels and awaits all of them on exit."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Start ``coro`` as a named task owned by the group; a crash is logged, never silent."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    def every(self, interval: float, fn: Callable[[], Awaitable[Any]], *, name: str,
              initial_delay: float = 0.0) -> asyncio.Task[Any]:
        """Run ``fn`` every ``interval`` seconds (with jitter) until shutdown; errors are logged."""

        async def loop() -> None:
            if await self.sleep(initial_delay):
                return
            while True:
                try:
                    await fn()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a periodic job logs and tries again next round
                    log.exception("periodic job %s failed", name)
                if await self.sleep(interval * random.uniform(0.9, 1.1)):  # noqa: S311
                    return

        return self.spawn(loop(), name=name)

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless shutdown starts first; True means 'stop now'."""
        if seconds <= 0:
            return self.stopping.is_set()
        return await wait_set(self.stopping, seconds)

    async def __aenter__(self) -> TaskGroup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, *, grace: float = 15.0) -> None:
        """Cancel every task and wait for them to finish (a task that ignores cancellation is named in
        the log after ``grace`` seconds, and shutdown goes on without it rather than hanging)."""
        self.stopping.set()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for t in pending:
            log.error("task %s did not stop within %.0f s of cancellation", t.get_name(), grace)
