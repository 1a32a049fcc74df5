"""Errors of client settings."""

from __future__ import annotations

from core.errors import NotFound


class NoSuchClient(NotFound):
    """The caller serves no client with that id (another bank's client answers exactly like an unknown one)."""

    code = "no-such-client"
