"""HTTP API (aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.routing import Router


def extra_routers() -> list[Router]:
    """Routers of the feature packages beyond calls (recordings, compliance, cases, hooks, reports)."""
    from api import compliance, recordings

    return [compliance.router, recordings.router]
