"""The composition root: the one place that builds every resource, service, feature and background job.

Resources are entered on an AsyncExitStack and torn down in reverse order: the AMI connections are
opened last (after every listener is wired, so no event or first "connected" notice is missed) and closed
first, then the recordings feature, the background tasks, and the database.

Features meet only here, through typed listeners: a call's state reaches the case contact log and the
recording row, a stored recording reaches the contact log, a legal hold asked for by a case reaches its
recordings (and a recording made or stored while its case is disputed gets the hold too).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.service import ReportService
from app.container import Container
from approvals.service import ApprovalService, HoldsReleased
from audit.service import Actor, AuditService
from auth.admin import UserAdmin
from auth.service import Authenticator
from auth.sessions import SessionService
from callbacks.service import CallbackService
from campaigns.service import CampaignService
from cases.contacts import attach_recording, record_contact
from cases.directory import CaseDirectoryAdapter
from cases.events import LegalHoldListener, LegalHoldRequested
from cases.holds import active_holds
from cases.models import LEGAL_HOLD_REASONS
from cases.service import CaseService
from cases.windows import WindowRules
from clients.service import ClientSettingsService
from compliance.admin import ComplianceAdmin
from compliance.service import ComplianceGate
from config.settings import Settings
from config.tls import client_context
from core.clock import Clock
from core.events import EventLog
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database
from db.migrate import migrate
from dialer.ami import AmiClient, AmiMessage
from dialer.errors import PbxUnavailable
from dialer.gate import DialGate
from dialer.models import Call, CallLeg
from dialer.pbx import PbxGateway
from dialer.presented import PresentedNumberService
from dialer.service import CallService
from dialer.states import CallState
from dialer.transfers import TransferService
from dialer.translate import (
    AMI_EVENTS,
    FactUpdate,
    translate,
    translate_device,
    translate_inbound,
    translate_leg,
    translate_monitor,
)
from hooks.dispatcher import Dispatcher
from hooks.outbox import Outbox
from hooks.service import HookService
from inbound.service import InboundService
from metrics.service import Metrics
from monitor.service import MonitorService
from payments.service import PaymentService
from presence.guard import PresenceGate
from presence.service import PresenceService
from recordings.events import StoredListener
from recordings.models import Recording
from recordings.probe import AGENT_TONE_HZ, ProbePhoneFactory
from recordings.retention import hold_case_recordings, hold_recording
from recordings.retention import hold_snapshot as recording_hold_snapshot
from recordings.runtime import RecordingsFeature
from sip.probe import SipProbePhone

log = logging.getLogger(__name__)
T = TypeVar("T")


def instance_name(settings: Settings) -> str:
    """This instance's name (for logs and leases)."""
    return settings.server.instance_id or f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def compose(settings: Settings, *, clock: Clock | None = None,
                  gate: DialGate | None = None) -> AsyncIterator[Container]:
    """Build everything; yield the container; tear everything down on exit."""
    clock = clock or Clock()
    name = instance_name(settings)
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database))
        if settings.database.migrate_on_start:
            await migrate(db)
        # AMI clients are built now but connected last, once every listener is wired (no event is missed)
        clients = {p.name: AmiClient(p.ami_host, p.ami_port, p.ami_user, p.ami_secret.get_secret_value(),
                                     name=p.name, ping_interval=p.ping_interval_s, pong_timeout=p.pong_timeout_s,
                                     tls=client_context(p.ami_tls_ca_file, verify=p.ami_tls_verify)
                                     if p.ami_tls else None)
                   for p in settings.pbx}
        tasks = await stack.enter_async_context(TaskGroup())
        events = EventLog()
        stream = EventStream(db)
        events.add_commit_listener(stream.wake)
        pbx = PbxGateway(clients, settings.pbx)
        # webhooks: the outbox writes a delivery per subscription in the event's transaction (and wakes the
        # dispatcher after the commit of one that wrote any); the dispatcher's HTTP session lives inside its
        # task and closes when the task group cancels it
        dispatcher = Dispatcher(db, settings.hooks, None, clock, name=name)
        Outbox(clock, wake=dispatcher.wake).install(events)
        tasks.spawn(dispatcher.run(), name="hooks-dispatcher")
        audit = AuditService(db=db, clock=clock)
        recordings = RecordingsFeature(settings=settings, db=db, events=events, clock=clock, instance=name, pbx=pbx,
                                       probe_phone_factory=probe_phone_factory(settings), audit=audit)
        container = build_container(settings=settings, clock=clock, db=db, events=events, stream=stream,
                                    tasks=tasks, pbx=pbx, gate=gate, recordings=recordings,
                                    hooks_wake=dispatcher.wake, audit=audit)
        await stack.enter_async_context(recordings)
        for pbx_name, client in clients.items():
            _wire_pbx(pbx_name, client, container, tasks)
            await stack.enter_async_context(client)
        tasks.spawn(stream.run(), name="event-stream")
        tasks.spawn(container.metrics.watch_loop(tasks), name="metrics-loop-lag")
        await container.reports.register_zones()
        tasks.spawn(container.reports.run_refresher(), name="analytics-rollup")
        tasks.every(30.0, container.calls.end_stale, name="stale-calls", initial_delay=5.0)
        tasks.every(3600.0, container.auth.purge, name="auth-purge", initial_delay=60.0)
        tasks.every(settings.presence.sweep_interval_s, container.presence.end_wrap_ups, name="presence-wrap-ups")
        tasks.every(settings.campaigns.tick_s, container.campaigns.tick, name="campaigns-progressive")
        tasks.every(settings.campaigns.handover_interval_s, container.callbacks.hand_over,
                    name="callbacks-to-team", initial_delay=settings.campaigns.handover_interval_s)
        tasks.every(settings.payments.sweep_interval_s, container.payments.sweep, name="promises-sweep",
                    initial_delay=settings.payments.sweep_interval_s)
        for pbx_name in clients:
            tasks.every(settings.presence.device_sync_interval_s, _device_sync(pbx_name, container),
                        name=f"presence-devices-{pbx_name}", initial_delay=settings.presence.device_sync_interval_s)
        stack.callback(stream.close)
        yield container


def build_container(*, settings: Settings, clock: Clock, db: Database, events: EventLog, stream: EventStream,
                    tasks: TaskGroup, pbx: PbxGateway, gate: DialGate | None = None,
                    recordings: RecordingsFeature | None = None,
                    hooks_wake: Callable[[], None] | None = None, audit: AuditService | None = None) -> Container:
    """Build every service around the given resources and wire the features' listeners.

    ``gate`` replaces the compliance gate in front of dials (a test double); the compliance admin
    service always reads policies through a real ``ComplianceGate``. ``audit`` is the audit trail the
    recordings feature already writes to (one is built when none is given).
    """
    compliance_gate = ComplianceGate(db=db, events=events, settings=settings.compliance, dialer=settings.dialer,
                                     clock=clock, cases=CaseDirectoryAdapter())
    presence = PresenceService(db=db, events=events, clock=clock, settings=settings.presence, pbx=pbx)
    dial_gate = gate if gate is not None else compliance_gate
    # a paused or offline agent is refused before the compliance gate runs (presence/guard.py)
    calls = CallService(db=db, events=events, pbx=pbx, gate=PresenceGate(dial_gate, presence),
                        settings=settings.dialer, clock=clock)
    callbacks = CallbackService(db=db, events=events, clock=clock)
    payments = PaymentService(db=db, events=events, clock=clock)
    # debtors calling back: routed by case, team and presence; a missed call leaves a callback
    inbound = InboundService(db=db, events=events, pbx=pbx, clock=clock, settings=settings.dialer,
                             pbx_settings=settings.pbx, schedule_callback=callbacks.schedule_missed_call)
    # campaigns ask the gate itself (a dry run) before offering a case; presence they check on their own
    campaigns = CampaignService(db=db, events=events, clock=clock, gate=dial_gate, presence=presence, calls=calls,
                                settings=settings.campaigns)
    window_rules = WindowRules(evidence_max_age=timedelta(seconds=settings.compliance.window_evidence_max_age_s),
                               max_days=settings.compliance.window_max_days)
    audit = audit if audit is not None else AuditService(db=db, clock=clock)
    cases = CaseService(db=db, events=events, clock=clock, window_rules=window_rules, audit=audit)
    approvals = ApprovalService(db=db, events=events, clock=clock, audit=audit,
                                ttl=timedelta(days=settings.approvals.request_ttl_days),
                                holds_released=_push_holds(recordings) if recordings is not None else None)
    auth = Authenticator(db=db, settings=settings.auth, clock=clock)
    users = UserAdmin(db=db, settings=settings.auth, clock=clock, events=events, audit=audit)
    sessions = SessionService(db=db, settings=settings.auth, clock=clock, events=events, audit=audit, auth=auth,
                              users=users)
    metrics = Metrics(db=db, pbx=pbx, stream=stream, settings=settings.metrics)
    container = Container(
        settings=settings, clock=clock, db=db, events=events, stream=stream, tasks=tasks, pbx=pbx, gate=dial_gate,
        calls=calls, reports=ReportService(db, settings.analytics, clock, audit=audit),
        presented=PresentedNumberService(db=db, clock=clock), cases=cases,
        hooks=HookService(db=db, settings=settings.hooks, clock=clock, wake=hooks_wake, audit=audit),
        compliance=ComplianceAdmin(db=db, gate=compliance_gate, clock=clock, audit=audit,
                                   retention_floor_days=settings.recordings.retention_floor_days),
        audit=audit, auth=auth, users=users, sessions=sessions, approvals=approvals, recordings=recordings,
        presence=presence, callbacks=callbacks, campaigns=campaigns, metrics=metrics, payments=payments,
        client_settings=ClientSettingsService(db=db, clock=clock, audit=audit),
        monitor=MonitorService(db=db, events=events, pbx=pbx, audit=audit, clock=clock), inbound=inbound,
        transfers=_transfers(db=db, events=events, pbx=pbx, clock=clock, presence=presence, gate=dial_gate,
                             default_region=settings.dialer.default_region))
    events.add_outbox_writer(metrics.on_domain_event)  # calls by state, gate decisions: counted after commit
    calls.add_state_listener(_record_contact_when_ended)
    calls.add_state_listener(presence.on_call_state)  # ringing, on_call, wrap-up after the call
    events.add_outbox_writer(presence.on_domain_event)  # a saved disposition ends its call's wrap-up
    calls.add_state_listener(callbacks.on_call_state)  # a connected call does its case's callbacks
    calls.add_state_listener(inbound.on_call_state)  # an inbound call that ends unanswered leaves a callback
    events.add_outbox_writer(payments.on_domain_event)  # a promise_to_pay disposition becomes a promise
    # a disposition's callback_at is scheduled; a broken promise's follow-up too
    events.add_outbox_writer(callbacks.on_domain_event)
    calls.add_state_listener(campaigns.on_call_state)  # an offered case's call ends: contacted, or rescheduled
    calls.add_state_listener(container.monitor.on_call_state)  # an ended call ends its monitoring sessions
    presence.add_state_listener(campaigns.on_presence)  # a paused or offline agent gives its offers back
    cases.add_legal_hold_listener(_hold_case_recordings(events, audit))
    if recordings is not None:
        _wire_recordings(recordings, calls, events, audit)
        container.readiness["recordings"] = recordings.readiness
    return container


def wire_case_import(cases: CaseService) -> None:
    """The command-line case import (``callguard import-cases``): a dispute it sets holds the case's recordings,
    in its transaction, as in the service."""
    cases.add_legal_hold_listener(_hold_case_recordings(cases.events, cases.audit))


def probe_phone_factory(settings: Settings) -> ProbePhoneFactory:
    """The recording probe's phone: its own pjsua2 phones process on the probe SIP account."""
    rs = settings.recordings

    def phone() -> SipProbePhone:
        return SipProbePhone(user=rs.probe_sip_user, password=rs.probe_sip_password.get_secret_value(),
                             host=rs.probe_sip_host, port=rs.probe_sip_port, tone_hz=AGENT_TONE_HZ)

    return phone


def _wire_recordings(recordings: RecordingsFeature, calls: CallService, events: EventLog,
                     audit: AuditService) -> None:
    """A call's states reach its recording row; a stored recording reaches the case contact log. A recording
    of a disputed case gets the case's legal hold when its row is made and again when it is stored (it may
    have been made, or still ingesting, when the dispute arrived)."""

    async def recording_row(session: AsyncSession, call: Call, state: CallState) -> None:
        rec = await recordings.service.on_call_state(session, call)
        if rec is not None:
            await _hold_if_disputed(session, rec, events, audit, recordings.clock.now())
        if state is CallState.ENDED:
            # the marker appears right after the hang-up: scan now, not at the next tick (a no-op when an
            # ingest role beside the PBX ingests: it polls its spool)
            recordings.wake()

    calls.add_state_listener(recording_row)
    for listener in stored_listeners(events, audit, recordings.clock):
        recordings.add_stored_listener(listener)


def stored_listeners(events: EventLog, audit: AuditService, clock: Clock) -> list[StoredListener]:
    """What a stored recording does in the transaction that stores it, wherever it is ingested (the service
    or ``callguard ingest``): it reaches the case contact log, and gets its case's legal hold if disputed."""

    async def stored(session: AsyncSession, rec: Recording) -> None:
        await _hold_if_disputed(session, rec, events, audit, clock.now())

    return [_attach_to_contact_log, stored]


def _push_holds(recordings: RecordingsFeature) -> HoldsReleased:
    """After an approved release of a legal hold: push it to the store's Object Lock at once."""

    async def push() -> int:
        return await recordings.retention.sync_holds()

    return push


async def _record_contact_when_ended(session: AsyncSession, call: Call, state: CallState) -> None:
    """Every ended call of a case goes into the case's immutable contact log."""
    if state is CallState.ENDED and call.case_id:
        await record_contact(session, call)


async def _record_contact_when_leg_ended(session: AsyncSession, call: Call, leg: CallLeg, step: str) -> None:
    """A transferred call's contact-log row gains each leg that talked to the customer as the leg ends."""
    if step == "ended" and call.case_id:
        await record_contact(session, call)


async def _attach_to_contact_log(session: AsyncSession, rec: Recording) -> None:
    """A call's stored recording (id and SHA-256) goes onto the call's contact-log row."""
    if rec.kind == "call" and rec.sha256 is not None:
        await attach_recording(session, rec.call_id, rec.id, rec.sha256)


def _hold_case_recordings(events: EventLog, audit: AuditService) -> LegalHoldListener:
    """A legal hold asked for by a case holds every recording of the case in the same transaction."""

    async def hold(session: AsyncSession, request: LegalHoldRequested) -> None:
        held = await hold_case_recordings(session, request.case_id, request.by, events=events, now=request.at)
        await _audit_holds(session, audit, held, Actor(user_id=request.by, role=request.role),
                           reason=f"{request.reason} (case {request.case_id})")

    return hold


async def _hold_if_disputed(session: AsyncSession, rec: Recording, events: EventLog, audit: AuditService,
                            now: datetime) -> None:
    """Hold a recording made (or stored) while its case has a hold that asks for a legal hold (a dispute)."""
    if rec.case_id is None or rec.legal_hold:
        return
    holds = [h for h in await active_holds(session, rec.case_id) if h.reason in LEGAL_HOLD_REASONS]
    if holds:
        why = f"{holds[0].reason} hold of case {rec.case_id} (applied by {holds[0].applied_by})"
        await hold_recording(session, rec, "system", events=events, now=now, detail=why)
        await _audit_holds(session, audit, [rec], Actor(user_id="system", role="system"), reason=why)


async def _audit_holds(session: AsyncSession, audit: AuditService, held: list[Recording], actor: Actor, *,
                       reason: str) -> None:
    for rec in held:
        await audit.record(session, actor=actor, action="recording.legal_hold_set", target_type="recording",
                           target_id=rec.id, client_id=rec.client_id, reason=reason,
                           before={**recording_hold_snapshot(rec), "legal_hold": False},
                           after=recording_hold_snapshot(rec))


def _transfers(*, db: Database, events: EventLog, pbx: PbxGateway, clock: Clock, presence: PresenceService,
               gate: DialGate, default_region: str) -> TransferService:
    """Transfers, with presence's check in front of every target (an agent must be available) and presence
    following each leg. A transfer to a number passes the dial gate itself (not presence's wrapper: the
    transferring agent is on this very call)."""
    transfers = TransferService(db=db, events=events, pbx=pbx, clock=clock, gate=gate,
                                default_region=default_region)
    transfers.add_target_check(presence.check_transferable)
    transfers.add_leg_listener(presence.on_leg)  # the target on the call, the agent who left it in wrap-up
    transfers.add_leg_listener(_record_contact_when_leg_ended)  # the contact log names who talked, when
    return transfers


def _wire_pbx(name: str, client: AmiClient, c: Container, tasks: TaskGroup) -> None:
    """Route one PBX's AMI events into the call service, and reconcile after every reconnect.

    Events are taken in runs (those that arrived together) and routed in their order: a call's facts, then
    what the same event tells of a monitoring leg, a transfer leg, a phone or an inbound caller. Consecutive
    facts of one call are merged in one transaction (``CallService.apply_all``); anything else in between
    ends the group first, so every change is made in the order the events came.
    """

    async def on_events(msgs: list[AmiMessage]) -> None:
        group: list[FactUpdate] = []
        for msg in msgs:
            now = c.clock.now()
            update = translate(msg, now)
            if update is not None:
                if group and group[-1].call_id != update.call_id:
                    await _routed(c.calls.apply_all, group, "call facts")
                    group = []
                group.append(update)
            steps = _other_steps(msg, now)
            if steps and group:
                await _routed(c.calls.apply_all, group, "call facts")
                group = []
            for step, arg, what in steps:
                await _routed(step, arg, what)
        if group:
            await _routed(c.calls.apply_all, group, "call facts")

    def _other_steps(msg: AmiMessage, now: datetime) -> list[tuple[Callable[[Any], Awaitable[Any]], Any, str]]:
        """What ``msg`` tells beyond a call's facts, in the order it is applied: (apply, fact, what)."""
        steps: list[tuple[Callable[[Any], Awaitable[Any]], Any, str]] = []
        if (monitored := translate_monitor(msg, now)) is not None:
            steps.append((c.monitor.apply, monitored, "monitoring leg"))
        if (leg := translate_leg(msg, now)) is not None:
            steps.append((c.transfers.apply_leg, leg, "transfer leg"))
        if (device := translate_device(msg, now)) is not None:
            steps.append((functools.partial(c.presence.apply_device, name), device, "phone state"))
        if (offer := translate_inbound(msg, now)) is not None:
            steps.append((functools.partial(c.inbound.offer, name), offer, "inbound caller"))
        return steps

    def on_connection(connected: bool) -> None:
        if connected:  # also on the first connection: this instance may have restarted mid-call
            tasks.spawn(_reconcile(name, c), name=f"reconcile-{name}")
            tasks.spawn(_device_sync(name, c)(), name=f"presence-sync-{name}")
            tasks.spawn(_recover_inbound(name, c), name=f"inbound-recover-{name}")

    client.add_run_listener(on_events, events=AMI_EVENTS)
    client.add_connection_listener(on_connection)
    client.add_action_observer(c.metrics.ami_observer(name))


async def _routed(apply: Callable[[T], Awaitable[Any]], fact: T, what: str) -> None:
    """Apply one routed fact of an AMI event; a failure is logged and the next one goes on (as the AMI
    dispatcher does for a listener)."""
    try:
        await apply(fact)
    except Exception:  # noqa: BLE001 - logged with traceback; the other events' changes must go on
        log.exception("AMI event: applying the %s failed", what)


async def _reconcile(name: str, c: Container) -> None:
    ended = await c.calls.reconcile(name)
    if ended:
        log.warning("PBX %s: %d call(s) no longer on the PBX after reconnect were ended as failed", name, ended)
    lost = await c.monitor.reconcile(name)
    if lost:
        log.warning("PBX %s: %d monitoring session(s) whose leg is gone after reconnect were ended", name, lost)


async def _recover_inbound(name: str, c: Container) -> None:
    logged = await c.inbound.recover(name)
    if logged:
        log.warning("PBX %s: %d inbound caller(s) sent to the message while no route came were logged", name, logged)


def _device_sync(name: str, c: Container) -> Callable[[], Coroutine[Any, Any, None]]:
    """Read every phone's registration from PBX ``name`` (after each connect, and periodically)."""

    async def sync() -> None:
        try:
            changed = await c.presence.sync_devices(name)
        except PbxUnavailable as exc:
            log.info("PBX %s: phone states not read: %s", name, exc)
            return
        if changed:
            log.info("PBX %s: %d agent phone(s) changed registration", name, changed)

    return sync
