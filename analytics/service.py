"""The analytics use cases the API and the composition root call: reports, zone registration, the refresher.

Reports are cut to the caller's ``Scope`` by adding it to the query's filters, which every report
honours: the ``client`` filter becomes the asked clients within the scope (every client of the scope
when none is asked), and a supervisor with a team gets ``team`` = that team. A client outside the
scope is cut to nothing: the report is empty (200), exactly as for a client with no calls, so it
never tells whether another bank exists. ``first-call-sla`` has no team dimension: a supervisor with
a team is refused it (403 ``report-needs-whole-client``).

A CSV or XLSX export is audited (``report.exported``): one entry per client it covers (none for a global
scope's report over every client), with the report, its range, dimensions and filters.
"""

from __future__ import annotations

from dataclasses import replace

from analytics import rollup
from analytics.errors import ReportNeedsWholeClient
from analytics.query import Report, ReportQuery
from analytics.reports import run_report
from audit.service import Actor, AuditService
from auth.scope import Scope
from config.settings import AnalyticsSettings
from core.clock import Clock
from db.engine import Database


def scoped_query(scope: Scope, q: ReportQuery) -> ReportQuery:
    """``q`` with ``scope`` added to its filters (see the module docstring)."""
    filters = dict(q.filters)
    clients = scope.visible_clients(filters.get("client"))
    if clients is not None:
        filters["client"] = tuple(sorted(clients))
    if scope.team is not None:
        if q.report == "first-call-sla":
            raise ReportNeedsWholeClient(q.report)
        wanted = filters.get("team")
        filters["team"] = (scope.team,) if wanted is None or scope.team in wanted else ()
    return q if filters == q.filters else replace(q, filters=filters)


class ReportService:
    """Reports over the normalised call model, each computed in one read session."""

    def __init__(self, db: Database, settings: AnalyticsSettings, clock: Clock,
                 audit: AuditService | None = None) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._audit = audit if audit is not None else AuditService(db=db, clock=clock)

    async def report(self, scope: Scope, q: ReportQuery) -> Report:
        """Compute report ``q`` over ``scope``'s calls (NoSuchReport, BadGroupBy when it cannot be answered)."""
        scoped = scoped_query(scope, q)
        async with self._db.read() as s:
            return await run_report(s, scoped, now=self._clock.now())

    async def export(self, scope: Scope, q: ReportQuery, *, actor: Actor, format: str) -> Report:
        """``report``, for a download in ``format`` (csv, xlsx): audited before it is answered."""
        report = await self.report(scope, q)
        scoped = scoped_query(scope, q)
        clients: list[str | None] = list(scoped.filters.get("client", ())) or [None]
        what = {"report": q.report, "format": format, "group_by": list(q.group_by),
                "from": q.start.isoformat() if q.start else None, "to": q.end.isoformat() if q.end else None,
                "tz": q.tz.key, "filters": {k: list(v) for k, v in sorted(scoped.filters.items())},
                "rows": len(report.rows)}
        async with self._db.begin() as s:
            for client_id in clients:
                await self._audit.record(s, actor=actor, action="report.exported", target_type="report",
                                         target_id=q.report, client_id=client_id, after=what)
        return report

    async def register_zones(self) -> list[str]:
        """Register the configured reporting zones (built by the next refresh); returns those new."""
        return await rollup.register_zones(self._db, self._settings.rollup_zones)

    async def run_refresher(self) -> None:
        """Background loop: roll up changed hours every ``refresh_interval_s`` seconds."""
        await rollup.run_refresher(self._db, interval=self._settings.refresh_interval_s)
