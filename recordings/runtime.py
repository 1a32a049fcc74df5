"""The recordings feature as one async context manager: store, ingest, retention, reconcile, probe.

``app.compose`` builds it once and registers ``readiness`` under ``/readyz``. Every background job
is a named task of the feature's own ``TaskGroup`` (cancelled first on exit), blocking audio work
runs on one small dedicated ``ThreadPoolExecutor``, the S3 client on the store's own pool.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audit.service import AuditService
from config.settings import Settings, StorageSettings
from core.clock import Clock
from core.errors import UpstreamUnavailable
from core.events import EventLog
from core.lifecycle import StackOwner
from core.tasks import TaskGroup, wait_set
from db.engine import Database
from dialer.pbx import PbxGateway
from recordings import events as ev
from recordings.ingest import Fault, Ingestor
from recordings.probe import ProbePhone, ProbePhoneFactory, Prober
from recordings.qa import QaService
from recordings.reconcile import Reconciler
from recordings.retention import Retention
from recordings.service import RecordingService
from recordings.storage import RecordingStore, StorageRefused, StorageUnavailable
from recordings.storage.local import LocalStore
from recordings.storage.s3 import S3Store

log = logging.getLogger(__name__)
HEALTH_INTERVAL_S = 5.0


def build_store(s: StorageSettings) -> LocalStore | S3Store:
    """The configured backend (not yet entered)."""
    if s.backend == "s3":
        return S3Store(s.s3_bucket, endpoint_url=s.s3_endpoint_url or None, region=s.s3_region,
                       access_key=s.s3_access_key.get_secret_value(),
                       secret_key=s.s3_secret_key.get_secret_value(), max_workers=s.s3_max_workers)
    return LocalStore(s.local_root)


async def ensure_bucket(store: S3Store) -> str | None:
    """Create or check the bucket at start-up: None when it is usable, the reason while storage is unreachable
    (recordings wait in the spool and the caller retries); a bucket that refuses (no Object Lock, no rights)
    stops the start."""
    try:
        await store.ensure_bucket()
    except StorageUnavailable as exc:
        log.warning("recording storage unavailable at start-up: %s (recordings wait in the spool)", exc.message)
        return exc.message
    except StorageRefused as exc:
        raise StorageRefused(f"recording bucket unusable: {exc.message}", details=exc.details) from exc
    return None


class RecordingsFeature(StackOwner):
    """Owns the store, the executor and the background jobs; exposes the services to the API."""

    def __init__(self, *, settings: Settings, db: Database, events: EventLog, clock: Clock, instance: str,
                 pbx: PbxGateway | None = None, store: RecordingStore | None = None,
                 probe_phone: ProbePhone | None = None, probe_phone_factory: ProbePhoneFactory | None = None,
                 fault: Fault | None = None, run_jobs: bool = True, audit: AuditService | None = None) -> None:
        super().__init__()
        self.settings, self.db, self.events, self.clock = settings, db, events, clock
        self.audit = audit if audit is not None else AuditService(db=db, clock=clock)
        self.instance, self.pbx = instance, pbx
        self._given_store, self._given_phone, self._fault, self._run_jobs = store, probe_phone, fault, run_jobs
        self._phone_factory = probe_phone_factory
        self._on_stored: list[ev.StoredListener] = []
        self._wake = asyncio.Event()
        self.storage_health: dict[str, Any] = {"status": "unknown"}
        self.disk: dict[str, Any] = {"ok": True}
        self._bucket_ready = True

    def add_stored_listener(self, listener: ev.StoredListener) -> None:
        """Call ``listener(session, recording)`` in the transaction that marks a recording stored."""
        self._on_stored.append(listener)

    async def _start(self) -> None:
        rs = self.settings.recordings
        if self.ingests:
            await asyncio.to_thread(Path(rs.spool_dir).mkdir, parents=True, exist_ok=True)
        store: Any = self._given_store
        if store is None:
            store = await self._stack.enter_async_context(build_store(self.settings.storage))
            if isinstance(store, S3Store):
                self._bucket_ready = await self._ensure_bucket(store)
        self.store: RecordingStore = store
        executor = ThreadPoolExecutor(rs.ingest_workers, thread_name_prefix="rec-ingest")
        self._stack.push_async_callback(asyncio.to_thread, executor.shutdown, True)
        mute = self.pbx.mute_recording if self.pbx is not None else None
        self.service = RecordingService(db=self.db, events=self.events, clock=self.clock, settings=rs,
                                        store=store, mute=mute, wake=self.wake, audit=self.audit)
        self.ingest = Ingestor(db=self.db, events=self.events, clock=self.clock, settings=rs, store=store,
                               executor=executor, instance=self.instance, fault=self._fault,
                               on_stored=self._on_stored)
        self.retention = Retention(db=self.db, events=self.events, clock=self.clock, store=store,
                                   service=self.service)
        self.reconciler = Reconciler(db=self.db, events=self.events, clock=self.clock, settings=rs, store=store)
        self.qa = QaService(db=self.db, clock=self.clock, service=self.service)
        phone, reason = await self._probe_phone()
        self.prober = Prober(db=self.db, events=self.events, clock=self.clock, settings=rs, store=store,
                             phone=phone, unavailable_reason=reason)
        released = await self.ingest.release_own_leases() if self.ingests else 0
        if released:
            log.warning("released %d ingest lease(s) left by a previous run of %s", released, self.instance)
        await self.prober.load_latest()
        self.tasks = await self._stack.enter_async_context(TaskGroup())
        if self._run_jobs:
            self._start_jobs()

    def _start_jobs(self) -> None:
        rs = self.settings.recordings
        if self.ingests:
            self.tasks.spawn(self._ingest_loop(), name="recordings-ingest")
        self.tasks.every(HEALTH_INTERVAL_S, self.check_health, name="recordings-health")
        self.tasks.every(rs.reconcile_interval_s, self.reconciler.run_once, name="recordings-reconcile",
                         initial_delay=min(5.0, rs.reconcile_interval_s))
        self.tasks.every(rs.purge_interval_s, self.retention.purge_expired, name="recordings-purge",
                         initial_delay=min(30.0, rs.purge_interval_s))
        if rs.probe_interval_s > 0 and self.prober.phone is not None:
            self.tasks.every(rs.probe_interval_s, self.prober.run, name="recordings-probe",
                             initial_delay=min(60.0, rs.probe_interval_s))

    async def _probe_phone(self) -> tuple[ProbePhone | None, str]:
        if self._given_phone is not None:
            return self._given_phone, ""
        rs = self.settings.recordings
        if not rs.probe_sip_user:
            return None, "no probe SIP account configured ([recordings] probe_sip_user)"
        if self._phone_factory is None:
            return None, "no probe phone in this process"
        try:
            return await self._stack.enter_async_context(self._phone_factory()), ""
        except (UpstreamUnavailable, RuntimeError, OSError) as exc:
            log.warning("recording probe unavailable: %s", exc)
            return None, f"probe unavailable: {exc}"

    async def _ensure_bucket(self, store: S3Store) -> bool:
        down = await ensure_bucket(store)
        if down is not None:
            self.storage_health = {"status": "down", "error": down}
        return down is None

    # -- jobs ---------------------------------------------------------------------------------
    @property
    def ingests(self) -> bool:
        """Whether this instance ingests a spool (``recordings.ingest = "service"``); else an ingest role
        beside each PBX does (``callguard ingest``, recordings/role.py) and this instance reads no spool."""
        return self.settings.recordings.ingest == "service"

    def wake(self) -> None:
        """Scan the spool now (a call just ended); nothing to wake when the ingest runs beside the PBX."""
        if self.ingests:
            self._wake.set()

    async def _ingest_loop(self) -> None:
        interval = self.settings.recordings.scan_interval_s
        while not self.tasks.stopping.is_set():
            try:
                await self.ingest.scan_once()
            except UpstreamUnavailable as exc:
                log.warning("spool scan skipped: %s unavailable", exc.upstream)
            except Exception:  # noqa: BLE001 - the scan loop must outlive any one bad round
                log.exception("spool scan failed")
            await wait_set(self._wake, interval)
            self._wake.clear()

    async def check_health(self) -> dict[str, Any]:
        """Storage health (+ bucket creation retry, hold sync, prompt retry when storage returns) and disk."""
        store = self.store
        if not self._bucket_ready and isinstance(store, S3Store):
            self._bucket_ready = await self._ensure_bucket(store)
        health = await store.health()
        was_down = self.storage_health.get("status") == "down" or self.ingest.storage_error is not None
        self.storage_health = health
        if health.get("status") != "down":
            if was_down:
                await self.ingest.storage_recovered()
                self.wake()
            await self.retention.sync_holds()
        self.disk = await asyncio.to_thread(self._disk)
        return health

    def _disk(self) -> dict[str, Any]:
        rs = self.settings.recordings
        if not self.ingests:
            return {"ok": True, "spool": "external"}
        try:
            usage = shutil.disk_usage(rs.spool_dir)
        except OSError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": usage.free >= rs.min_free_bytes, "free_bytes": usage.free,
                "min_free_bytes": rs.min_free_bytes}

    async def readiness(self) -> dict[str, Any]:
        """The ``/readyz`` entry: storage, disk, backlog, gaps, latest probe; ``ok`` false on a problem."""
        counts = await self.reconciler.counts()
        storage = dict(self.storage_health)
        if self.ingest.storage_error is not None:
            storage.update(status="down", error=self.ingest.storage_error,
                           since=self.ingest.storage_error_since.isoformat()
                           if self.ingest.storage_error_since else None)
        probe = self.prober.latest or {"status": "never-run" if self.prober.phone else "unavailable",
                                       "reason": self.prober.unavailable_reason or None}
        ok = storage.get("status") != "down" and bool(self.disk.get("ok")) and probe.get("status") != "failed"
        return {"ok": ok, "storage": storage, "disk": self.disk, **counts,
                "store_scan": await self.reconciler.store_scan.status(), "probe": probe}
