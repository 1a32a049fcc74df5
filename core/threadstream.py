"""A blocking producer in its own thread, consumed on the event loop as a bounded stream of chunks.

For work that is blocking from start to end (writing a zip archive, hashing) and whose output goes
to a client as it is made. The producer runs in a dedicated thread and ``emit``s chunks into a
buffer of at most ``max_chunks``; it blocks while the buffer is full, so it never runs further
ahead of the consumer than that and memory stays bounded whatever the size of the whole output.
It reaches async resources (a recording store) through ``call``, which runs a coroutine on the
loop and waits for it.

Leaving ``async with`` for any reason (output consumed, an error, the client gone, cancellation)
stops the producer: its next ``emit`` or ``call`` raises ``Stopped``, the coroutine it waits for
is cancelled (and awaited), the buffer is dropped, and the exit waits until the thread has ended.
No thread and no pending coroutine outlive the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Stopped(Exception):  # noqa: N818 - a signal to unwind, not an error
    """The consumer went away: raised by ``emit`` and ``call`` so that the producer unwinds."""


@dataclass(frozen=True, slots=True)
class _End:
    error: BaseException | None = None


class ProducerContext:
    """What the producer thread may do: emit chunks, run coroutines on the loop, see if it is stopped."""

    def __init__(self, stream: ThreadStream) -> None:
        self._stream = stream

    @property
    def stopped(self) -> bool:
        """True once the consumer has gone away."""
        return self._stream._stop.is_set()

    def emit(self, chunk: bytes) -> None:
        """Hand a chunk to the consumer; blocks while ``max_chunks`` are waiting; ``Stopped`` if gone."""
        if not chunk:
            return
        s = self._stream
        if s._stop.is_set():
            raise Stopped
        s._slots.acquire()
        if s._stop.is_set():
            raise Stopped
        s._loop.call_soon_threadsafe(s._queue.put_nowait, chunk)

    def call(self, coro: Coroutine[Any, Any, T], *, cleanup: bool = False) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception).

        Raises ``Stopped`` when the stream stops, after the coroutine has been cancelled and has
        finished. ``cleanup=True`` runs it even when stopped and never cancels it (closing a
        resource the producer opened through an earlier ``call``).
        """
        s = self._stream
        if s._stop.is_set() and not cleanup:
            coro.close()
            raise Stopped
        finished = threading.Event()
        started: list[asyncio.Task[T]] = []

        def start() -> None:  # on the loop
            if s._stop.is_set() and not cleanup:
                coro.close()
                finished.set()
                return
            task = s._loop.create_task(coro, name=f"{s.name}-call")
            started.append(task)
            if not cleanup:
                s._calls.add(task)
            task.add_done_callback(done)

        def done(task: asyncio.Task[T]) -> None:  # on the loop
            s._calls.discard(task)
            finished.set()

        s._loop.call_soon_threadsafe(start)
        finished.wait()
        if not started or started[0].cancelled():
            raise Stopped
        return started[0].result()


class ThreadStream:
    """Run ``produce(ctx)`` in a new thread; iterate its emitted chunks with ``async for``.

    An exception of the producer is raised by the iteration after the chunks emitted before it.
    Use as ``async with ThreadStream(...) as chunks: async for chunk in chunks: ...``.
    """

    def __init__(self, produce: Callable[[ProducerContext], None], *, max_chunks: int = 4,
                 name: str = "thread-stream") -> None:
        if max_chunks < 1:
            raise ValueError("max_chunks must be at least 1")
        self.name = name
        self._produce = produce
        self._slots = threading.Semaphore(max_chunks)
        self._stop = threading.Event()
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue()
        self._calls: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._ended: asyncio.Future[None] | None = None
        self._done = False

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        assert self._ended is not None, "ThreadStream used outside 'async with'"
        return self._ended.get_loop()

    async def __aenter__(self) -> Self:
        self._ended = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def _run(self) -> None:  # the producer thread
        end = _End()
        try:
            self._produce(ProducerContext(self))
        except Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            end = _End(exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
                self._loop.call_soon_threadsafe(self._finish, end)

    def _finish(self, end: _End) -> None:  # on the loop, once the producer has returned
        self._queue.put_nowait(end)
        assert self._ended is not None
        if not self._ended.done():
            self._ended.set_result(None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, bytes):
            self._slots.release()
            return item
        self._done = True
        if item.error is not None:
            raise item.error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop the producer (if still running), drop buffered chunks, wait until the thread has ended."""
        if self._thread is None or self._ended is None:
            return
        self._stop.set()
        for task in list(self._calls):
            task.cancel()
        self._slots.release()  # wake an emit blocked on the full buffer
        self._drain()
        cancelled = False
        while not self._ended.done():
            try:
                await asyncio.shield(self._ended)
            except asyncio.CancelledError:  # keep waiting: the thread ends promptly once stopped
                cancelled = True
        self._thread.join()
        self._thread = None
        self._drain()
        self._done = True
        if cancelled:
            raise asyncio.CancelledError

    def _drain(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _End) and item.error is not None:  # nobody is left to raise it to
                log.info("%s: producer failed after the consumer left: %r", self.name, item.error)
