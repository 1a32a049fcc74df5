"""Fixtures shared by every integration area: the session PBX, phones and a raw AMI tap.

They are defined in ``tests/integration/pbx/conftest.py`` (their original home, whose names keep
working there) and re-exported here so other areas (recordings, ...) use the same definitions.
"""

from __future__ import annotations

from tests.integration.pbx.conftest import AGENT_PASSWORD, AGENT_PHONES, AGENTS, ami, pbx, phones

__all__ = ["AGENTS", "AGENT_PASSWORD", "AGENT_PHONES", "ami", "pbx", "phones"]
