"""ThreadStream: order, bounded run-ahead, errors, calls onto the loop, and stopping in every state."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.threadstream import ProducerContext, Stopped, ThreadStream


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


async def test_chunks_arrive_in_order_then_the_stream_ends() -> None:
    def produce(ctx: ProducerContext) -> None:
        for i in range(50):
            ctx.emit(str(i).encode())
        ctx.emit(b"")  # empty chunks are not sent

    async with ThreadStream(produce, max_chunks=2, name="ts-order") as chunks:
        got = [c async for c in chunks]
    assert got == [str(i).encode() for i in range(50)]
    assert not _threads("ts-order")


async def test_the_producer_never_runs_more_than_max_chunks_ahead() -> None:
    emitted = 0

    def produce(ctx: ProducerContext) -> None:
        nonlocal emitted
        for _ in range(200):
            ctx.emit(b"x" * 1000)
            emitted += 1

    received = 0
    async with ThreadStream(produce, max_chunks=3, name="ts-bound") as chunks:
        async for _ in chunks:
            received += 1
            assert emitted <= received + 3
            await asyncio.sleep(0)
    assert received == emitted == 200


async def test_a_producer_error_comes_after_the_chunks_before_it() -> None:
    def produce(ctx: ProducerContext) -> None:
        ctx.emit(b"a")
        ctx.emit(b"b")
        raise ValueError("broken")

    got = []
    async with ThreadStream(produce, name="ts-error") as chunks:
        with pytest.raises(ValueError, match="broken"):
            async for c in chunks:
                got.append(c)
    assert got == [b"a", b"b"]
    assert not _threads("ts-error")


async def test_call_runs_coroutines_on_the_loop_with_results_and_errors() -> None:
    loop_thread = threading.get_ident()

    async def where() -> int:
        return threading.get_ident()

    async def fail() -> None:
        raise KeyError("nope")

    def produce(ctx: ProducerContext) -> None:
        assert threading.get_ident() != loop_thread
        ctx.emit(str(ctx.call(where()) == loop_thread).encode())
        try:
            ctx.call(fail())
        except KeyError:
            ctx.emit(b"caught")

    async with ThreadStream(produce, name="ts-call") as chunks:
        assert [c async for c in chunks] == [b"True", b"caught"]


async def test_leaving_early_stops_a_producer_blocked_on_a_full_buffer() -> None:
    outcome: list[str] = []

    def produce(ctx: ProducerContext) -> None:
        try:
            while True:
                ctx.emit(b"y" * 4096)
        except Stopped:
            outcome.append("stopped")
            raise

    async with ThreadStream(produce, max_chunks=2, name="ts-early") as chunks:
        async for _ in chunks:
            break
    assert outcome == ["stopped"]
    assert not _threads("ts-early")


async def test_leaving_early_cancels_the_coroutine_the_producer_waits_for_and_runs_cleanup() -> None:
    entered = asyncio.Event()
    log: list[str] = []

    async def forever() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        finally:
            log.append("cancelled")

    async def close() -> None:
        log.append("cleanup")

    def produce(ctx: ProducerContext) -> None:
        try:
            ctx.call(forever())
        finally:
            assert ctx.stopped
            ctx.call(close(), cleanup=True)
            log.append("producer-left")

    async with ThreadStream(produce, name="ts-call-stop"):
        await entered.wait()
    assert log == ["cancelled", "cleanup", "producer-left"]
    assert not _threads("ts-call-stop")
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("ts-call-stop")]


async def test_cancelling_the_consumer_stops_the_thread_and_propagates() -> None:
    started = asyncio.Event()

    def produce(ctx: ProducerContext) -> None:
        while True:
            ctx.emit(b"z")

    async def consume() -> None:
        async with ThreadStream(produce, max_chunks=1, name="ts-cancel") as chunks:
            async for _ in chunks:
                started.set()
                await asyncio.Event().wait()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _threads("ts-cancel")


def test_max_chunks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chunks"):
        ThreadStream(lambda ctx: None, max_chunks=0)
