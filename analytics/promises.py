"""Promise-to-pay amounts: summed per currency from ``dispositions`` joined to their calls, at report time.

Dispositions are few next to calls (one per dispositioned call, promises a small share), so the join by the
call's primary key over the promises in range is cheap; no rollup, hence nothing to keep in step. A promise
is bucketed by its call's ``created_at`` like every other call measure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.measures import calls
from analytics.metrics import TIME_DIMENSIONS
from analytics.query import DIM_COLUMN, ReportQuery, epoch_hour_sql
from analytics.sources import raw_filters
from analytics.timezones import local_minute, time_key, time_label
from cases.models import Disposition
from db.dialect import dialect_of

dispositions = Disposition.__table__
Amounts = dict[str, Decimal]


async def promise_amounts(session: AsyncSession, q: ReportQuery, segments: tuple[tuple[int, int], ...]
                          ) -> tuple[dict[tuple[Any, ...], Amounts], Amounts]:
    """Per group key (labelled like report rows) and in total: currency -> sum of promised amounts."""
    d, c = dispositions.c, calls.c
    lm = local_minute(epoch_hour_sql(c.created_at, dialect_of(session)), segments)
    keys = [(time_key(g, lm) if g in TIME_DIMENSIONS else c[DIM_COLUMN[g]]).label(f"k_{g}") for g in q.group_by]
    cond = [d.outcome == "promise_to_pay", d.promise_amount.is_not(None), *raw_filters(q)]
    if q.start is not None:
        cond.append(c.created_at >= q.start)
    if q.end is not None:
        cond.append(c.created_at < q.end)
    currency = func.coalesce(d.promise_currency, "")
    stmt = (select(*keys, currency, func.sum(d.promise_amount)).select_from(dispositions.join(calls, c.id == d.call_id))
            .where(*cond).group_by(*keys, currency))
    groups: dict[tuple[Any, ...], Amounts] = {}
    total: Amounts = {}
    n = len(q.group_by)
    for rec in (await session.execute(stmt)).all():
        key = tuple(time_label(g, int(v)) if g in TIME_DIMENSIONS else (v or None)
                    for g, v in zip(q.group_by, rec[:n], strict=True))
        cur, amount = str(rec[n]), Decimal(str(rec[n + 1]))
        acc = groups.setdefault(key, {})
        acc[cur] = acc.get(cur, Decimal(0)) + amount
        total[cur] = total.get(cur, Decimal(0)) + amount
    return groups, total


def as_json(amounts: Amounts | None) -> dict[str, str]:
    """``{currency: "amount"}`` with exact decimal text, currencies sorted."""
    return {k: f"{v:.2f}" for k, v in sorted((amounts or {}).items())}
