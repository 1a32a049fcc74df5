"""Errors of payments."""

from __future__ import annotations

from core.errors import NotFound


class NoSuchClient(NotFound):
    """The caller serves no client with that id (another bank's client answers exactly like an unknown one)."""

    code = "no-such-client"


class NoSuchCase(NotFound):
    """No case with that id the caller may see (another bank's case answers exactly like a missing one)."""

    code = "no-such-case"
