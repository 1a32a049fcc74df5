"""Errors of reading the metrics."""

from __future__ import annotations

from core.errors import Forbidden


class MetricsForbidden(Forbidden):
    """A token that is neither the scrape token nor a global admin's (metrics are the whole platform's)."""

    code = "metrics-forbidden"
