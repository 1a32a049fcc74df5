"""HTTP API (aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.routing import Router


def extra_routers() -> list[Router]:
    """Routers of the feature packages beyond calls (compliance, cases, clients, hooks, recordings, reports)."""
    from api import cases, clients, compliance, hooks, recordings, reports

    return [compliance.router, cases.router, clients.router, hooks.router, recordings.router, reports.router]
