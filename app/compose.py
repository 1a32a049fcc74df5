"""The composition root: the one place that builds every resource and hands it to each feature.

Resources are entered on an AsyncExitStack and torn down in reverse order: the AMI connections are
opened last (after every listener is wired, so no event or first "connected" notice is missed) and closed
first, then the recordings feature, the background tasks, and the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.service import ReportService
from app.container import Container
from audit.service import AuditService
from auth.admin import UserAdmin
from auth.service import Authenticator
from cases.service import record_contact
from config.settings import Settings
from core import heap
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from db.migrate import migrate
from dialer.ami import AmiClient, AmiMessage
from dialer.gate import DialGate
from dialer.models import Call
from dialer.pbx import PbxGateway
from dialer.service import CallService
from dialer.states import CallState
from dialer.translate import INTERESTING, translate
from hooks.service import start_hooks

log = logging.getLogger(__name__)

GateFactory = Callable[[Container], DialGate]


def instance_name(settings: Settings) -> str:
    """This instance's name (for logs and leases)."""
    return settings.server.instance_id or f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def compose(settings: Settings, *, clock: Clock | None = None,
                  gate: DialGate | None = None) -> AsyncIterator[Container]:
    """Build everything; yield the container; tear everything down on exit."""
    clock = clock or Clock()
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database))
        if settings.database.migrate_on_start:
            await migrate(db)
        # AMI clients are built now but connected last, once every listener is wired (no event is missed)
        clients = {p.name: AmiClient(p.ami_host, p.ami_port, p.ami_user, p.ami_secret.get_secret_value(),
                                     name=p.name, ping_interval=p.ping_interval_s, pong_timeout=p.pong_timeout_s)
                   for p in settings.pbx}
        tasks = await stack.enter_async_context(TaskGroup())
        events = EventLog()
        stream = EventStream(db)
        events.add_commit_listener(stream.wake)
        pbx = PbxGateway(clients, settings.pbx)
        audit = AuditService(db=db, clock=clock)
        container = Container(settings=settings, clock=clock, db=db, events=events, stream=stream, pbx=pbx,
                              calls=None,  # type: ignore[arg-type]  # set just below
                              reports=ReportService(db, settings.analytics, clock),
                              audit=audit, auth=Authenticator(db=db, settings=settings.auth, clock=clock),
                              users=UserAdmin(db=db, settings=settings.auth, clock=clock, events=events, audit=audit))
        if gate is None:
            from cases.directory import CaseDirectoryAdapter
            from compliance.service import ComplianceGate

            gate = ComplianceGate(db=db, events=events, settings=settings.compliance,
                                  dialer=settings.dialer, clock=clock, cases=CaseDirectoryAdapter())
        container.calls = CallService(db=db, events=events, pbx=pbx, gate=gate, settings=settings.dialer,
                                      clock=clock)
        container.extras["gate"] = gate
        container.calls.add_state_listener(_record_contact_when_ended)
        start_hooks(container, tasks, name=instance_name(settings))
        from recordings.runtime import RecordingsFeature

        recordings = await stack.enter_async_context(RecordingsFeature(
            settings=settings, db=db, events=events, clock=clock, instance=instance_name(settings), pbx=pbx))
        container.extras["recordings"] = recordings
        container.readiness["recordings"] = recordings.readiness

        async def recording_row(session: AsyncSession, call: Call, state: CallState) -> None:
            await recordings.service.on_call_state(session, call)
            if state is CallState.ENDED:
                recordings.wake()  # the marker appears right after the hang-up: scan now, not at the next tick

        container.calls.add_state_listener(recording_row)
        for name, client in clients.items():
            _wire_pbx(name, client, container, tasks)
            await stack.enter_async_context(client)
        tasks.spawn(stream.run(), name="event-stream")
        await container.reports.register_zones()
        tasks.spawn(container.reports.run_refresher(), name="analytics-rollup")
        tasks.every(30.0, container.calls.end_stale, name="stale-calls", initial_delay=5.0)
        tasks.every(3600.0, container.auth.purge, name="auth-purge", initial_delay=60.0)
        stack.callback(stream.close)
        container.extras["tasks"] = tasks
        yield container


async def _record_contact_when_ended(session: AsyncSession, call: Call, state: CallState) -> None:
    """Every ended call of a case goes into the case's immutable contact log."""
    if state is CallState.ENDED and call.case_id:
        await record_contact(session, call)


def _wire_pbx(name: str, client: AmiClient, c: Container, tasks: TaskGroup) -> None:
    """Route one PBX's AMI events into the call service, and reconcile after every reconnect."""

    async def on_event(msg: AmiMessage) -> None:
        update = translate(msg, c.clock.now())
        if update is not None:
            await c.calls.apply(update)

    def on_connection(connected: bool) -> None:
        if connected:  # also on the first connection: this instance may have restarted mid-call
            tasks.spawn(_reconcile(name, c), name=f"reconcile-{name}")

    client.add_listener(on_event, events=INTERESTING)
    client.add_connection_listener(on_connection)


async def _reconcile(name: str, c: Container) -> None:
    ended = await c.calls.reconcile(name)
    if ended:
        log.warning("PBX %s: %d call(s) no longer on the PBX after reconnect were ended as failed", name, ended)


async def serve(settings: Settings, *, on_ready: Callable[[str], Any] | None = None) -> None:
    """Run the HTTP service until cancelled (SIGINT/SIGTERM)."""
    import signal

    from api.app import make_app

    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    async with compose(settings) as container:
        app = make_app(container)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.server.host, settings.server.port)
            await site.start()
            url = f"http://{settings.server.host}:{settings.server.port}"
            log.info("Callguard %s listening on %s", instance_name(settings), url)
            if on_ready:
                on_ready(url)
            heap.settle()  # start-up is over: its objects are never garbage (core/heap.py)
            await asyncio.Event().wait()  # until cancelled
        finally:
            await runner.cleanup()
