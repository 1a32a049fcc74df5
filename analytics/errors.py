"""Errors of the reports, in the one error shape."""

from __future__ import annotations

from core.errors import Forbidden, NotFound, ValidationFailed


class NoSuchReport(NotFound):
    """The report name is unknown."""

    code = "no-such-report"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no report named {name!r}", details={"report": name, "reports": known})


class BadGroupBy(ValidationFailed):
    """A dimension in group_by or a filter is unknown for this report."""

    code = "bad-group-by"

    def __init__(self, bad: list[str], allowed: list[str]) -> None:
        super().__init__("unknown or repeated dimension", details={"bad": bad, "allowed": allowed})


class ReportNeedsWholeClient(Forbidden):
    """A report without a team dimension, asked by a supervisor who sees only one team."""

    code = "report-needs-whole-client"

    def __init__(self, name: str) -> None:
        super().__init__(f"report {name!r} has no team dimension: it cannot be cut to your team",
                         details={"report": name})
