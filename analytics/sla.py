"""First-call SLA: the share of cases whose first placed call came within N days of receipt.

A case's receipt is ``cases.received_at`` (when the client handed it over), or its ``created_at`` when the
import did not say. Its first call is ``min(calls.created_at)`` over its calls, one index seek per case on
``calls(case_id, created_at)``; only the cases received in the report range are read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.measures import calls
from analytics.query import Report, ReportQuery, ReportSpec
from analytics.timezones import local_key, time_label
from cases.models import Case

cases = Case.__table__
LATE_LIST_LIMIT = 1000


async def first_call_sla(session: AsyncSession, q: ReportQuery, spec: ReportSpec, *, now: datetime) -> Report:
    """Cases received in [start, end) grouped by client/batch/day of receipt; late ones listed."""
    columns = [*q.group_by, *spec.metrics]
    first = (select(func.min(calls.c.created_at)).where(calls.c.case_id == cases.c.id)
             .scalar_subquery().label("first_at"))
    received_at = func.coalesce(cases.c.received_at, cases.c.created_at)
    stmt = select(cases.c.id, cases.c.client_id, cases.c.batch_id, received_at.label("received_at"), first)
    if q.start is not None:
        stmt = stmt.where(received_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(received_at < q.end)
    for f, vals in q.filters.items():
        stmt = stmt.where(cases.c[f"{f}_id"].in_(vals))
    deadline = timedelta(days=q.sla_days)
    groups: dict[tuple[Any, ...], list[int]] = {}
    late: list[dict[str, Any]] = []
    n_late = 0
    for case_id, client, batch, received, first_at in (await session.execute(stmt.order_by(received_at, cases.c.id))):
        key = tuple(_key(d, client, batch, received, q) for d in q.group_by)
        acc = groups.setdefault(key, [0, 0, 0, 0])  # cases, within, late, pending
        acc[0] += 1
        due = received + deadline
        if first_at is not None and first_at <= due:
            acc[1] += 1
        elif first_at is None and now <= due:
            acc[3] += 1
        else:
            acc[2] += 1
            n_late += 1
            if len(late) < LATE_LIST_LIMIT:
                delay = ((first_at or now) - received).total_seconds() / 3600
                late.append({"case_id": case_id, "client": client, "batch": batch,
                             "received_at": received.isoformat(),
                             "first_call_at": first_at.isoformat() if first_at else None,
                             "hours_to_first_call": round(delay, 1), "called": first_at is not None})
    rows = []
    tot = [0, 0, 0, 0]
    for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
        acc = groups[key]
        tot = [a + b for a, b in zip(tot, acc, strict=True)]
        rows.append({**dict(zip(q.group_by, key, strict=True)), **_metrics(*acc)})
    notes = [f"deadline: first call within {q.sla_days} days of receipt"]
    if n_late > LATE_LIST_LIMIT:
        notes.append(f"late_cases lists the first {LATE_LIST_LIMIT} of {n_late}")
    return Report(spec.name, spec.title, columns, rows, _metrics(*tot), q, notes, late)


def _key(dim: str, client: str | None, batch: str | None, received: datetime, q: ReportQuery) -> Any:
    if dim == "client":
        return client
    if dim == "batch":
        return batch
    return time_label(dim, local_key(dim, received, q.tz))


def _metrics(n: int, within: int, late: int, pending: int) -> dict[str, Any]:
    decided = n - pending
    return {"cases": n, "first_call_within_sla": within, "late": late, "pending": pending,
            "first_call_sla_rate": round(within / decided, 6) if decided else None}
