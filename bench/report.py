"""report_ms: the connect-rate and talk-time reports by agent and day over 1 M calls (SQLite) and 10 M (PostgreSQL).

Baseline in the same run: a plain SQL GROUP BY over the raw calls table. Datasets are cached (SQLite under
bench/.data/, PostgreSQL as database ``bench_calls_<n>_<seed>``) so reruns are quick; a cached database is
re-ANALYZEd before timing. Env: BENCH_SQLITE_CALLS (1_000_000; 0 skips SQLite), BENCH_PG_CALLS (10_000_000),
CALLGUARD_BENCH_PG_URL (admin URL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from analytics.ddl import install  # noqa: E402
from analytics.query import ReportQuery  # noqa: E402
from analytics.reports import run_report  # noqa: E402
from analytics.rollup import refresh, register_zones  # noqa: E402
from analytics.synth import Plan, load  # noqa: E402
from bench._common import print_table, record  # noqa: E402
from config.settings import DatabaseSettings  # noqa: E402
from core import heap  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import migrate  # noqa: E402

SEED = 1
TZ = "Asia/Shanghai"
BASELINE = {
    "sqlite": "SELECT agent_id, date(created_at, '+8 hours') AS d, count(*), "
              "sum(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) FROM calls GROUP BY agent_id, d",
    "postgresql": "SELECT agent_id, (created_at AT TIME ZONE 'Asia/Shanghai')::date AS d, count(*), "
                  "count(answered_at) FROM calls GROUP BY agent_id, d",
}


async def _ensure(db: Database, n: int) -> None:
    await migrate(db)
    await install(db)  # a cached database gets indexes added since it was generated
    await register_zones(db, [TZ])  # the zone the reports are read in gets its daily rollup
    async with db.read() as s:
        have = (await s.execute(text("SELECT count(*) FROM calls"))).scalar_one()
    if have != n:
        if have:
            async with db.begin() as s:
                await s.execute(text("DELETE FROM calls"))
        t = time.perf_counter()
        stats = await load(db, Plan(calls=n, seed=SEED, tz=TZ))
        print(f"  generated {n:,} calls in {time.perf_counter() - t:.0f} s {stats}", flush=True)
    t = time.perf_counter()
    await refresh(db)  # builds the daily rollup of a newly registered zone (a cached copy may predate it)
    print(f"  rollup refreshed in {time.perf_counter() - t:.1f} s", flush=True)
    async with db.engine.begin() as conn:  # statistics as after a fresh load (a cached copy may predate them)
        await conn.execute(text("ANALYZE"))


async def _time(fn: object, runs: int = 5) -> float:
    samples = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        await fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples[1:])


REPORTS = (("connect-rate", "connect_rate"), ("talk-time", "talk_time"))


async def bench(url: str, label: str, n: int) -> None:
    """Measure the reports and the raw GROUP BY on one database."""
    names = []
    async with Database(DatabaseSettings(url=url)) as db:
        await _ensure(db, n)

        async def raw() -> None:
            async with db.read() as s:
                (await s.execute(text(BASELINE[db.engine.dialect.name]))).all()

        base = await _time(raw, runs=3)
        for report_name, slug in REPORTS:
            q = ReportQuery(report_name, ("agent", "day"), tz=ZoneInfo(TZ))

            async def report(q: ReportQuery = q) -> None:
                async with db.read() as s:
                    r = await run_report(s, q)
                assert r.totals["attempts"] == n

            heap.settle()  # as the service does once it has started (core/heap.py)
            ms = await _time(report)
            name = f"report_ms_{slug}_agent_day_{label}"
            record(name, "ms", round(ms, 1), {"raw_sql_group_by_ms": round(base, 1)}, extra={"calls": n})
            names.append(name)
    print_table(names)


async def main() -> None:
    """SQLite always; PostgreSQL when CALLGUARD_BENCH_PG_URL is set."""
    n_sqlite = int(os.environ.get("BENCH_SQLITE_CALLS", "1000000"))
    data = ROOT / "bench" / ".data"
    data.mkdir(parents=True, exist_ok=True)
    if n_sqlite:
        await bench(f"sqlite+aiosqlite:///{data / f'calls-{n_sqlite}-seed{SEED}.db'}", "sqlite", n_sqlite)
    admin = os.environ.get("CALLGUARD_BENCH_PG_URL") or os.environ.get("CALLGUARD_TEST_PG_URL")
    if not admin:
        print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
        return
    n_pg = int(os.environ.get("BENCH_PG_CALLS", "10000000"))
    name = f"bench_calls_{n_pg}_{SEED}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        if not (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})).first():
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    await bench(admin.rsplit("/", 1)[0] + "/" + name, "postgresql", n_pg)


if __name__ == "__main__":
    asyncio.run(main())
