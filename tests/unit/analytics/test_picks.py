"""The nearest-rank rule, written once in analytics/picks.py, gives the same picks in Python, numpy and SQL."""

from __future__ import annotations

import math
import random

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from analytics.picks import nearest_rank, nearest_rank_picks, pick, sql_picks
from db.engine import Database


def _by_sorting(values: list[int]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {"talk_median": float(ordered[math.ceil(len(values) / 2) - 1]),
            "talk_p90": float(ordered[math.ceil(len(values) * 9 / 10) - 1])}


def test_nearest_rank_is_the_ceiling() -> None:
    assert [nearest_rank(n, 1, 2) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert [nearest_rank(n, 9, 10) for n in (1, 9, 10, 11, 20)] == [1, 9, 9, 10, 18]


async def test_python_numpy_and_sql_pick_the_same(db: Database) -> None:
    rng = random.Random(7)
    hists = [{sec: rng.randint(1, 4) for sec in rng.sample(range(600), rng.randint(1, 40))} for _ in range(30)]
    hists.append({42: 1})
    t = Table("pick_hist", MetaData(), Column("g", Integer), Column("sec", Integer), Column("n", Integer))
    async with db.engine.begin() as conn:
        await conn.run_sync(t.create)
    async with db.begin() as s:
        await s.execute(insert(t), [{"g": g, "sec": sec, "n": n} for g, h in enumerate(hists) for sec, n in h.items()])
    run = select(t.c.g, t.c.sec, func.sum(t.c.n).over(partition_by=t.c.g, order_by=t.c.sec).label("cum"),
                 func.sum(t.c.n).over(partition_by=t.c.g).label("tot")).subquery()
    async with db.read() as s:
        rows = (await s.execute(select(run.c.g, *sql_picks(run.c.sec, run.c.cum, run.c.tot)).group_by(run.c.g))).all()
    in_sql = {g: {"talk_median": float(m), "talk_p90": float(p)} for g, m, p in rows}
    per_group, _ = nearest_rank_picks([], [(g, sec, n) for g, h in enumerate(hists) for sec, n in h.items()],
                                      len(hists))
    for g, h in enumerate(hists):
        want = _by_sorting([sec for sec, n in h.items() for _ in range(n)])
        assert pick(h) == per_group[g] == in_sql[g] == want, g


async def test_signed_rows_take_values_out_alike_in_python_numpy_and_sql(db: Database) -> None:
    """A transferred call's legs: -1 rows take its whole-call values out (of packed seconds too), +1 rows add."""
    rng = random.Random(11)
    kept = [[rng.randrange(600) for _ in range(rng.randint(1, 30))] for _ in range(20)]
    moved = [rng.sample(v, rng.randint(0, len(v) - 1)) for v in kept]  # values taken out again
    added = [[rng.randrange(600) for _ in range(rng.randint(0, 5))] for _ in range(20)]
    kept.append([7])
    moved.append([7])  # a group whose only value is taken out: no percentiles
    added.append([])
    rows = [(g, sec, 1) for g, vs in enumerate(kept) for sec in vs]
    rows += [(g, sec, -1) for g, vs in enumerate(moved) for sec in vs]
    rows += [(g, sec, 1) for g, vs in enumerate(added) for sec in vs]
    t = Table("pick_signed", MetaData(), Column("g", Integer), Column("sec", Integer), Column("n", Integer))
    async with db.engine.begin() as conn:
        await conn.run_sync(t.create)
    async with db.begin() as s:
        await s.execute(insert(t), [{"g": g, "sec": sec, "n": n} for g, sec, n in rows])
    run = select(t.c.g, t.c.sec, func.sum(t.c.n).over(partition_by=t.c.g, order_by=t.c.sec).label("cum"),
                 func.sum(t.c.n).over(partition_by=t.c.g).label("tot")).subquery()
    async with db.read() as s:
        res = (await s.execute(select(run.c.g, *sql_picks(run.c.sec, run.c.cum, run.c.tot)).group_by(run.c.g))).all()
    in_sql = {g: {"talk_median": None if m is None else float(m), "talk_p90": None if p is None else float(p)}
              for g, m, p in res}
    # the numpy path: the kept values packed as the daily rollup stores them, the signed rows beside them
    blobs = [(g, np.asarray(sorted(vs), dtype="<u4").tobytes()) for g, vs in enumerate(kept)]
    signed = [r for r in rows if r[2] < 0] + [(g, sec, 1) for g, vs in enumerate(added) for sec in vs]
    per_group, totals = nearest_rank_picks(blobs, signed, len(kept))
    everything: list[int] = []
    for g in range(len(kept)):
        left = list(kept[g])
        for sec in moved[g]:
            left.remove(sec)
        values = left + added[g]
        everything += values
        want = _by_sorting(values) if values else {"talk_median": None, "talk_p90": None}
        hist: dict[int, int] = {}
        for gg, sec, n in rows:
            if gg == g:
                hist[sec] = hist.get(sec, 0) + n
        assert pick(hist) == per_group[g] == in_sql[g] == want, g
    assert totals == _by_sorting(everything)
