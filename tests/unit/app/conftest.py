"""The recordings rig (a database on each backend, a local store, a spool) for the wiring tests."""

from __future__ import annotations

from tests.unit.recordings.conftest import rig

__all__ = ["rig"]
