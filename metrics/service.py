"""This instance's Prometheus metrics: one registry per composed service, its instruments and collectors.

Counters are incremented at the source: the domain events the unit of work records (a call reaching a state,
a dial allowed or blocked by the gate) are seen by an outbox writer in their transaction and counted once the
transaction commits (a rolled-back one counts nothing). Only the instance whose transaction changed a call
records its event, so the sum of a counter over the instances is the platform's count. AMI latency comes
from the AMI client's action observer, the event loop's lag from a tracked task. What is in memory (AMI
connections, the database pool, open event streams) is read at scrape time; what is database state is
counted at scrape time too, from indexed columns, at most every ``db_state_max_age_s`` (``metrics.state``).

Labels are bounded sets only (call states, end reasons, gate block codes, PBX names and AMI action names from
the configuration and the code); never a call, agent, case, client or number.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Iterator
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from compliance.decision import BlockCode
from config.settings import MetricsSettings
from core.models import DomainEventRow
from core.stream import EventStream
from core.tasks import TaskGroup
from db.engine import Database, after_commit
from dialer import events as call_events
from dialer.ami.client import ActionObserver
from dialer.pbx import PbxGateway
from dialer.states import CallState, EndReason
from metrics.state import DELIVERY_STATES, RECORDING_STATES, DbStateCache

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # every name here is a classic one: any Prometheus 2 or 3 reads it
OTHER = "other"
NO_RULE = "none"
_STATE_OF_EVENT = {type_: state.value for state, type_ in call_events.REACHED.items()}
_END_REASONS = frozenset(r.value for r in EndReason)
_RULES = frozenset(get_args(BlockCode))
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The registry and instruments of one composed service (never the process-global default registry)."""

    def __init__(self, *, db: Database, pbx: PbxGateway, stream: EventStream, settings: MetricsSettings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.calls = Counter("callguard_calls", "Calls that reached each state (per instance; sum over instances)",
                             ["state"], registry=r)
        self.calls_ended = Counter("callguard_calls_ended", "Calls ended, by end reason (per instance)",
                                   ["end_reason"], registry=r)
        self.gate_decisions = Counter(
            "callguard_gate_decisions", "Dials decided by the compliance gate: allowed (rule=none) or blocked, by "
            "the blocking rule's code (per instance)", ["decision", "rule"], registry=r)
        self.ami_latency = Histogram("callguard_ami_action_duration_seconds",
                                     "Time from sending an AMI action to its response, per PBX and action",
                                     ["pbx", "action"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ami_failures = Counter("callguard_ami_action_failures",
                                    "AMI actions that got no success: error, timeout, lost or cancelled",
                                    ["pbx", "action", "outcome"], registry=r)
        self.loop_lag = Histogram("callguard_event_loop_lag_seconds",
                                  "How late the event loop ran a timer (measured every loop_lag_interval_s)",
                                  buckets=_LAG_BUCKETS, registry=r)
        for state in CallState:
            self.calls.labels(state.value)
        for reason in EndReason:
            self.calls_ended.labels(reason.value)
        self.gate_decisions.labels("allowed", NO_RULE)
        for rule in sorted(_RULES):
            self.gate_decisions.labels("blocked", rule)
        self.db_state = DbStateCache(db, max_age=settings.db_state_max_age_s)
        r.register(_LiveCollector(db, pbx, stream))
        r.register(_DbStateCollector(self.db_state))

    # -- sources ------------------------------------------------------------------------------------
    async def on_domain_event(self, session: AsyncSession, row: DomainEventRow) -> None:
        """Outbox writer: count a call's new state or a gate decision once its transaction has committed."""
        count = self._count_of(row)
        if count is not None:
            after_commit(session, (self, row.event_id), count)

    def _count_of(self, row: DomainEventRow) -> Callable[[], None] | None:
        if row.type == call_events.CALL_BLOCKED:
            code = str((row.payload or {}).get("code") or "")
            return self.gate_decisions.labels("blocked", code if code in _RULES else OTHER).inc
        state = _STATE_OF_EVENT.get(row.type)
        if state is None:
            return None
        reached = self.calls.labels(state).inc
        if state == CallState.REQUESTED.value:  # a call row exists only for a dial the gate allowed
            allowed = self.gate_decisions.labels("allowed", NO_RULE).inc

            def requested() -> None:
                reached()
                allowed()

            return requested
        if state == CallState.ENDED.value:
            reason = str((row.payload or {}).get("end_reason") or "")
            ended = self.calls_ended.labels(reason if reason in _END_REASONS else OTHER).inc

            def finished() -> None:
                reached()
                ended()

            return finished
        return reached

    def ami_observer(self, pbx: str) -> ActionObserver:
        """The AMI client's action observer for PBX ``pbx`` (action names come from our code: a bounded set)."""

        def observe(action: str, seconds: float, outcome: str) -> None:
            self.ami_latency.labels(pbx, action).observe(seconds)
            if outcome != "ok":
                self.ami_failures.labels(pbx, action, outcome).inc()

        return observe

    async def watch_loop(self, tasks: TaskGroup) -> None:
        """Measure how late the loop wakes a timer, every ``loop_lag_interval_s``, until shutdown."""
        loop = asyncio.get_running_loop()
        interval = self.settings.loop_lag_interval_s
        while True:
            started = loop.time()
            if await tasks.sleep(interval):
                return
            self.loop_lag.observe(max(0.0, loop.time() - started - interval))

    # -- reading ------------------------------------------------------------------------------------
    def scrape_token_matches(self, presented: str) -> bool:
        """Is ``presented`` the configured scrape token (compared in constant time; never when none is set)?"""
        token = self.settings.token.get_secret_value()
        return bool(token) and hmac.compare_digest(presented.encode(), token.encode())

    async def render(self) -> bytes:
        """Every metric in the Prometheus text format (database state counted first when it is stale)."""
        await self.db_state.refresh()
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """What this instance holds in memory, read at scrape time: AMI connections, database pool, open streams."""

    def __init__(self, db: Database, pbx: PbxGateway, stream: EventStream) -> None:
        self.db, self.pbx, self.stream = db, pbx, stream

    def collect(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily("callguard_ami_connected", "1 while this instance is logged in to the PBX's "
                                      "AMI, else 0", labels=["pbx"])
        reconnects = CounterMetricFamily("callguard_ami_reconnects", "AMI connections restored after a loss",
                                         labels=["pbx"])
        dropped = CounterMetricFamily("callguard_ami_dropped_events", "AMI events dropped because the queue was full",
                                      labels=["pbx"])
        for name, state in sorted(self.pbx.state().items()):
            if not isinstance(state, dict):
                continue
            connected.add_metric([name], 1.0 if state.get("connected") else 0.0)
            reconnects.add_metric([name], float(state.get("reconnects") or 0))
            dropped.add_metric([name], float(state.get("dropped_events") or 0))
        yield from (connected, reconnects, dropped)
        size = GaugeMetricFamily("callguard_db_pool_connections", "Connections the database pool keeps open at most "
                                 "(beyond it, up to as many again as overflow)", labels=["engine"])
        out = GaugeMetricFamily("callguard_db_pool_checked_out_connections", "Pool connections in use now",
                                labels=["engine"])
        engines = {"write": self.db.engine}
        if self.db.read_engine is not self.db.engine:
            engines["read"] = self.db.read_engine
        for name, engine in engines.items():
            pool = engine.pool
            if isinstance(pool, QueuePool):
                size.add_metric([name], float(pool.size()))
                out.add_metric([name], float(pool.checkedout()))
        yield from (size, out)
        yield GaugeMetricFamily("callguard_sse_streams_open", "Event streams (SSE) open on this instance",
                                value=float(self.stream.subscribers))


class _DbStateCollector(Collector):
    """The last count of the shared database state (the same on every instance)."""

    def __init__(self, cache: DbStateCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        st = self.cache.state
        yield GaugeMetricFamily("callguard_db_state_up", "1 if the last count of the database state succeeded",
                                value=1.0 if self.cache.up else 0.0)
        calls = GaugeMetricFamily("callguard_calls_in_progress", "Calls not ended, by state (all instances)",
                                  labels=["state"])
        for call_state in CallState:
            if call_state is not CallState.ENDED:
                calls.add_metric([call_state.value], float(st.calls_in_progress.get(call_state.value, 0)))
        yield calls
        recs = GaugeMetricFamily("callguard_recordings", "Recordings not stored yet, by state: recording (the call "
                                 "is on), pending (the ingest backlog), failed (needs a person)", labels=["state"])
        for state in RECORDING_STATES:
            recs.add_metric([state], float(st.recordings.get(state, 0)))
        yield recs
        yield GaugeMetricFamily("callguard_recordings_missing", "Answered calls without a stored recording after "
                                "recordings.missing_after_s (open gaps)", value=float(st.recordings_missing))
        hooks = GaugeMetricFamily("callguard_webhook_deliveries", "Webhook deliveries by state: pending (the "
                                  "backlog) and dead (dead letters)", labels=["state"])
        for state in DELIVERY_STATES:
            hooks.add_metric([state], float(st.deliveries.get(state, 0)))
        yield hooks
