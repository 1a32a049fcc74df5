"""Waiting for a recording's spool files to go: ingest removes them after the stored state is committed."""

from __future__ import annotations

import asyncio
from pathlib import Path


def _left(spool: Path, call_id: str) -> list[str]:
    return sorted(p.name for p in spool.glob(f"{call_id}*"))


async def spool_emptied(spool: Path, call_id: str, *, within: float = 15.0) -> None:
    """Return once no spool file of ``call_id`` is left; fail naming those still there after ``within`` s.

    Ingest commits a recording as stored and only then deletes its spool files (a crash in between leaves
    them for the next scan to clean), so a test that has just seen "stored" may still see the files.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left = await asyncio.to_thread(_left, spool, call_id)
        if not left:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"spool files of {call_id} still there after {within} s: {left}")
        await asyncio.sleep(0.1)
