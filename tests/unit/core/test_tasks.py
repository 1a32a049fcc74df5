"""Tracked background tasks: periodic jobs survive their errors, shutdown cancels and never hangs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from core.tasks import TaskGroup, wait_set


async def test_periodic_job_keeps_running_after_an_error() -> None:
    calls: list[int] = []
    ran_twice = asyncio.Event()

    async def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        ran_twice.set()

    async with TaskGroup() as tasks:
        tasks.every(0.01, job, name="job")
        await asyncio.wait_for(ran_twice.wait(), 5)
    assert len(calls) >= 2


async def test_close_cancels_and_reports_a_task_that_ignores_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    async def polite() -> None:
        await asyncio.sleep(10)

    tasks = TaskGroup()
    t1 = tasks.spawn(stubborn(), name="stubborn")
    t2 = tasks.spawn(polite(), name="polite")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(tasks.close(grace=0.2), 5)
    assert t2.cancelled()
    assert not t1.done()
    assert "stubborn did not stop" in caplog.text
    release.set()
    t1.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await t1


async def test_sleep_is_interrupted_by_shutdown() -> None:
    tasks = TaskGroup()
    sleeper = asyncio.create_task(tasks.sleep(60))
    await asyncio.sleep(0)
    await tasks.close()
    assert await asyncio.wait_for(sleeper, 1) is True


async def test_a_cancel_arriving_as_the_event_is_set_stops_the_loop() -> None:
    wake = asyncio.Event()
    rounds = 0

    async def poll_loop() -> None:  # the shape of the dispatcher's, the ingest's and the stream's loops
        nonlocal rounds
        while True:
            await wait_set(wake, 10)
            wake.clear()
            rounds += 1

    task = asyncio.create_task(poll_loop())
    await asyncio.sleep(0)
    wake.set()  # in the same loop turn as the shutdown's cancel
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):  # a lost cancel would leave the loop polling forever
            await task
    assert rounds == 0


async def test_wait_set_answers_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_set(event, 5) is True
