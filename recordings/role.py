"""The ingest role: one PBX's spool ingested by a process beside that PBX, not by the service.

With ``recordings.ingest = "external"`` the service instances read no spool; ``callguard ingest`` runs
this beside each PBX instead. It claims, transcodes, stores, verifies and records exactly as the
service's own ingest does (``recordings/ingest.py``): the claim is the recording row and its lease in the
shared database, so two roles on one spool, or a role restarted after a crash, store each recording once.

The role polls its spool every ``scan_interval_s`` (the service's call-ended wake-up cannot reach another
host), checks the store every few seconds (a storage outage ends: waiting recordings are due at once), and
owns every task in its own ``TaskGroup``, cancelled first on exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from config.settings import RecordingSettings, StorageSettings
from core.clock import Clock
from core.errors import UpstreamUnavailable
from core.events import EventLog
from core.lifecycle import StackOwner
from core.tasks import TaskGroup
from db.engine import Database
from recordings import events as ev
from recordings.ingest import Ingestor
from recordings.runtime import build_store, ensure_bucket
from recordings.storage import RecordingStore
from recordings.storage.s3 import S3Store

log = logging.getLogger(__name__)
HEALTH_INTERVAL_S = 5.0
CLEANUP_INTERVAL_S = 600.0


class IngestRole(StackOwner):
    """One spool's ingest as an async context manager: store, executor, ingestor and its tracked tasks."""

    def __init__(self, *, settings: RecordingSettings, storage: StorageSettings, db: Database, events: EventLog,
                 clock: Clock, instance: str, on_stored: Sequence[ev.StoredListener] = (),
                 store: RecordingStore | None = None, run_jobs: bool = True) -> None:
        super().__init__()
        self.settings, self.storage, self.db, self.events, self.clock = settings, storage, db, events, clock
        self.instance, self._on_stored, self._given_store = instance, list(on_stored), store
        self._run_jobs = run_jobs  # False in tests: they call scan() themselves
        self._storage_down = False

    async def _start(self) -> None:
        rs = self.settings
        await asyncio.to_thread(Path(rs.spool_dir).mkdir, parents=True, exist_ok=True)
        store = self._given_store
        if store is None:
            built = build_store(self.storage)
            await self._stack.enter_async_context(built)
            if isinstance(built, S3Store):
                self._storage_down = await ensure_bucket(built) is not None
            store = built
        self.store: RecordingStore = store
        executor = ThreadPoolExecutor(rs.ingest_workers, thread_name_prefix="rec-ingest")
        self._stack.push_async_callback(asyncio.to_thread, executor.shutdown, True)
        self.ingest = Ingestor(db=self.db, events=self.events, clock=self.clock, settings=rs, store=store,
                               executor=executor, instance=self.instance, on_stored=self._on_stored)
        released = await self.ingest.release_own_leases()
        if released:  # this name's previous run died holding them: its recordings are due again now
            log.warning("released %d ingest lease(s) left by a previous run of %s", released, self.instance)
        self._stack.push_async_callback(self._release_leases)  # runs after the tasks are cancelled
        self.tasks = await self._stack.enter_async_context(TaskGroup())
        if self._run_jobs:
            self._start_jobs()
        log.info("ingest role %s started on spool %s", self.instance, rs.spool_dir)

    def _start_jobs(self) -> None:
        self.tasks.every(self.settings.scan_interval_s, self.scan, name="ingest-scan")
        self.tasks.every(HEALTH_INTERVAL_S, self.check_storage, name="ingest-storage-health",
                         initial_delay=HEALTH_INTERVAL_S)
        self.tasks.every(CLEANUP_INTERVAL_S, self.ingest.cleanup_work, name="ingest-work-cleanup",
                         initial_delay=CLEANUP_INTERVAL_S)

    async def _release_leases(self) -> None:
        """On a clean stop: recordings cut off mid-ingest are due at once for another role, not after the lease."""
        try:
            await self.ingest.release_own_leases()
        except UpstreamUnavailable as exc:
            log.warning("ingest leases not released at stop: %s unavailable (they expire)", exc.upstream)

    async def scan(self) -> int:
        """One scan of the spool; how many recordings were looked at (0 while the database is down)."""
        try:
            return await self.ingest.scan_once()
        except UpstreamUnavailable as exc:
            log.warning("spool scan skipped: %s unavailable", exc.upstream)
            return 0

    async def check_storage(self) -> None:
        """When storage answers again after an outage, recordings waiting for it are due now."""
        health = await self.store.health()
        down = health.get("status") == "down"
        if not down and (self._storage_down or self.ingest.storage_error is not None):
            await self.ingest.storage_recovered()
        self._storage_down = down
