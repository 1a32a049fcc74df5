"""``callguard ingest``: the ingest role's composition, beside one PBX, on its spool.

It builds only what ingesting needs: the shared database, the event log with the webhook outbox (so a
``recording.stored`` reaches webhooks and, through the event log in the database, every service instance's
live stream), the audit trail, the recording store, and the same stored-listeners the service wires (the
case contact log, a disputed case's legal hold). No AMI, no HTTP, no migrations: the service owns those, and
the role waits until the service has brought the shared database to this release's schema.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.compose import stored_listeners
from audit.service import AuditService
from config.settings import Settings
from core.clock import Clock
from core.events import EventLog
from db.engine import Database
from db.migrate import wait_for_schema
from hooks.outbox import Outbox
from recordings.role import IngestRole

log = logging.getLogger(__name__)


def role_name(settings: Settings, pbx: str | None) -> str:
    """The role's lease owner: stable across restarts on one host (a restarted role frees its own leases at
    once), distinct per PBX and host (two roles on one spool share by lease)."""
    base = settings.server.instance_id or socket.gethostname()
    return f"ingest-{pbx or 'spool'}-{base}"


@asynccontextmanager
async def ingest_role(settings: Settings, *, pbx: str | None = None, spool: Path | None = None,
                      name: str | None = None, clock: Clock | None = None) -> AsyncIterator[IngestRole]:
    """Compose the ingest role over ``spool`` (default ``recordings.spool_dir``); torn down on exit."""
    clock = clock or Clock()
    rs = settings.recordings if spool is None else settings.recordings.model_copy(update={"spool_dir": spool})
    async with Database(settings.database) as db:
        await wait_for_schema(db)
        events = EventLog()
        Outbox(clock).install(events)  # webhook deliveries written in the storing transaction
        audit = AuditService(db=db, clock=clock)
        role = IngestRole(settings=rs, storage=settings.storage, db=db, events=events, clock=clock,
                          instance=name or role_name(settings, pbx),
                          on_stored=stored_listeners(events, audit, clock))
        async with role:
            yield role


async def run_ingest(settings: Settings, *, pbx: str | None = None, spool: Path | None = None,
                     name: str | None = None) -> None:
    """Run the ingest role until SIGTERM or SIGINT; then its tasks are cancelled and its leases released (a
    recording cut off mid-ingest is due at once for the next run or another role)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with ingest_role(settings, pbx=pbx, spool=spool, name=name) as role:
        await stop.wait()
        log.info("ingest role %s stopping", role.instance)
