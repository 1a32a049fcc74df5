"""Long-lived resources that start into their own exit stack and unwind it on exit."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Self


class StackOwner:
    """An async context manager whose ``_start`` enters its resources on ``self._stack``.

    They are released in reverse order on exit, and at once when the start fails halfway, so a failed start
    leaves nothing open behind it.
    """

    def __init__(self) -> None:
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        raise NotImplementedError
