"""Errors of callbacks."""

from __future__ import annotations

from core.errors import ValidationFailed


class NoTeam(ValidationFailed):
    """``view=team`` asked by a user who has no team."""

    code = "no-team"
