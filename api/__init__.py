"""HTTP API (aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.routing import Router


def extra_routers() -> list[Router]:
    """Routers of the feature packages beyond calls (compliance, cases, hooks, recordings, reports, users, audit)."""
    from api import audit, auth, cases, compliance, hooks, recordings, reports

    return [compliance.router, cases.router, hooks.router, recordings.router, reports.router, auth.router,
            audit.router]
