"""The recording probe: a synthetic call to the PBX's ``probe`` extension, checked end to end.

The probe phone is injected: ``app.compose`` hands the recordings feature a factory of
``sip.probe.SipProbePhone`` (pjsua2 runs in a separate phones process, an optional GPL extra never
imported here). It calls ``sip:probe@<pbx>`` with ``X-Callguard-Call-Id: <probe id>`` and plays
600 Hz (the agent side, ``-rx`` = left); the PBX records and plays 1000 Hz (``-tx`` = right). The
probe waits until the ingest has stored and verified the recording, then checks each tone on its
channel with ``recordings.tone.detect_tone``. The result is stored; the latest is in ``/readyz``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from config.settings import RecordingSettings
from core.clock import Clock
from core.events import DomainEvent, EventLog
from db.base import new_id
from db.engine import Database
from recordings import events as ev
from recordings.errors import ProbeUnavailable
from recordings.models import ProbeResult, Recording
from recordings.schemas import probe_json
from recordings.states import RecordingState
from recordings.storage import RecordingStore
from recordings.tone import detect_tone

log = logging.getLogger(__name__)
AGENT_TONE_HZ = 600.0  # the phone's tone, on the agent channel (left)
PBX_TONE_HZ = 1000.0  # the PBX's tone, on the customer channel (right)


class ProbePhone(Protocol):
    """Places the probe call; True when the PBX answered it."""

    async def call(self, probe_id: str, seconds: float) -> bool:
        """Call the probe extension for ``seconds`` with the probe id header."""
        ...


ProbePhoneFactory = Callable[[], AbstractAsyncContextManager[ProbePhone]]
"""Builds the probe phone (entered once by the recordings feature, exited when it stops)."""


class Prober:
    """Runs probes one at a time and keeps the latest result."""

    def __init__(self, *, db: Database, events: EventLog, clock: Clock, settings: RecordingSettings,
                 store: RecordingStore, phone: ProbePhone | None, unavailable_reason: str = "") -> None:
        self.db, self.events, self.clock, self.settings, self.store = db, events, clock, settings, store
        self.phone, self.unavailable_reason = phone, unavailable_reason
        self._lock = asyncio.Lock()
        self.latest: dict[str, Any] | None = None

    async def load_latest(self) -> None:
        """Read the newest stored result (after a restart)."""
        async with self.db.read() as s:
            row = await s.scalar(select(ProbeResult).order_by(ProbeResult.started_at.desc()).limit(1))
        self.latest = probe_json(row)

    async def run(self) -> dict[str, Any]:
        """One probe; raises ``ProbeUnavailable`` when no probe phone can run."""
        if self.phone is None:
            raise ProbeUnavailable(self.unavailable_reason or "no probe phone configured")
        async with self._lock:
            return await self._run(self.phone)

    async def _run(self, phone: ProbePhone) -> dict[str, Any]:
        probe_id, rec_id, now = new_id(), new_id(), self.clock.now()
        row = ProbeResult(id=probe_id, started_at=now, status="running", recording_id=rec_id, detail={})
        async with self.db.begin() as s:
            s.add(row)
            s.add(Recording(id=rec_id, call_id=probe_id, kind="probe", state=RecordingState.RECORDING.value,
                            started_at=now, created_at=now, updated_at=now))
        detail: dict[str, Any] = {}
        try:
            async with asyncio.timeout(self.settings.probe_timeout_s):
                answered = await phone.call(probe_id, self.settings.probe_call_seconds)
                if not answered:
                    raise _ProbeFailed("the PBX did not answer the probe call")
                rec = await self._wait_stored(rec_id)
                detail.update(await self._check_tones(rec))
            ok = detail["agent_tone"]["present"] and detail["customer_tone"]["present"]
            status = "passed" if ok else "failed"
        except _ProbeFailed as exc:
            status, detail["error"] = "failed", str(exc)
        except TimeoutError:
            status, detail["error"] = "failed", f"no verified recording within {self.settings.probe_timeout_s:g} s"
        except ProbeUnavailable as exc:
            status, detail["error"] = "unavailable", exc.message
        async with self.db.begin() as s:
            got = await s.get(ProbeResult, probe_id)
            assert got is not None
            got.status, got.detail, got.finished_at = status, detail, self.clock.now()
            await self.events.record(s, DomainEvent(type=ev.PROBE_FINISHED, payload={
                "probe_id": probe_id, "recording_id": rec_id, "status": status}, occurred_at=self.clock.now()))
            self.latest = probe_json(got)
        (log.info if status == "passed" else log.error)("recording probe %s: %s %s", probe_id, status, detail)
        assert self.latest is not None
        return self.latest

    async def _wait_stored(self, rec_id: str) -> Recording:
        while True:
            async with self.db.read() as s:
                rec = await s.get(Recording, rec_id)
            if rec is not None and rec.state == RecordingState.STORED:
                return rec
            if rec is not None and rec.state in (RecordingState.FAILED, RecordingState.EMPTY):
                raise _ProbeFailed(f"probe recording ended {rec.state}: {rec.last_error or ''}")
            await asyncio.sleep(0.2)

    async def _check_tones(self, rec: Recording) -> dict[str, Any]:
        assert rec.key is not None
        with tempfile.TemporaryDirectory(prefix="callguard-probe-") as tmp:
            path = Path(tmp) / Path(rec.key).name
            async with await self.store.open_range(rec.key, version_id=rec.version_id) as rng:
                with path.open("wb") as fh:  # noqa: ASYNC230 - a few KiB per chunk into a temp file
                    async for chunk in rng:
                        fh.write(chunk)
            stereo = (rec.channels or 1) >= 2
            agent = await asyncio.to_thread(detect_tone, path, AGENT_TONE_HZ, 0)
            customer = await asyncio.to_thread(detect_tone, path, PBX_TONE_HZ, 1 if stereo else 0)
        return {"agent_tone": _tone(agent), "customer_tone": _tone(customer), "channels": rec.channels,
                "sha256": rec.sha256, "duration_s": rec.duration_s}


def _tone(result: Any) -> dict[str, Any]:
    d = asdict(result)
    d["level_dbfs"] = None if d["level_dbfs"] == float("-inf") else round(d["level_dbfs"], 1)
    d["ratio"] = round(d["ratio"], 3)
    return d


class _ProbeFailed(Exception):
    """The probe ran and found a problem."""
