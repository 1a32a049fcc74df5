"""The analytics use cases the API and the composition root call: reports, zone registration, the refresher."""

from __future__ import annotations

from analytics import rollup
from analytics.query import Report, ReportQuery
from analytics.reports import run_report
from config.settings import AnalyticsSettings
from core.clock import Clock
from db.engine import Database


class ReportService:
    """Reports over the normalised call model, each computed in one read session."""

    def __init__(self, db: Database, settings: AnalyticsSettings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    async def report(self, q: ReportQuery) -> Report:
        """Compute report ``q`` (NoSuchReport, BadGroupBy when it cannot be answered)."""
        async with self._db.read() as s:
            return await run_report(s, q, now=self._clock.now())

    async def register_zones(self) -> list[str]:
        """Register the configured reporting zones (built by the next refresh); returns those new."""
        return await rollup.register_zones(self._db, self._settings.rollup_zones)

    async def run_refresher(self) -> None:
        """Background loop: roll up changed hours every ``refresh_interval_s`` seconds."""
        await rollup.run_refresher(self._db, interval=self._settings.refresh_interval_s)
