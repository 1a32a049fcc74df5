"""Synthetic call history: agents in teams, banks, batches, number kinds, plausible outcomes and durations.

``python -m analytics.synth --calls N --db URL [--seed S] [--tz Asia/Shanghai]`` bulk-loads N ended calls
(SQLite: executemany of pre-formatted rows; PostgreSQL: COPY via asyncpg) with the rollup triggers switched
off, then switches them on and rebuilds the rollup. Offline tool: run it without live writers.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from analytics.ddl import install, set_triggers_sync
from analytics.rollup import rebuild
from config.settings import DatabaseSettings
from db.engine import Database
from db.migrate import migrate

COLUMNS = ("id", "agent_id", "team", "requested_by", "number", "number_kind", "case_id", "client_id", "batch_id",
           "pbx", "sip_user", "state", "end_reason", "hangup_cause", "outcome", "created_at", "originated_at",
           "customer_ringing_at", "answered_at", "ended_at", "ring_seconds", "talk_seconds", "facts")
# local hour-of-day weights 08..20 (calls between 08:00 and 21:00)
HOUR_WEIGHTS = (4, 8, 10, 9, 6, 5, 8, 9, 8, 7, 7, 6, 3)
NUMBER_KINDS = (("mobile", 70), ("landline", 25), ("voip", 5))
# unconnected end reasons and weights (the connect rate is drawn per agent and hour)
MISSES = (("customer_no_answer", 50), ("customer_busy", 14), ("customer_unreachable", 14), ("agent_no_answer", 5),
          ("agent_rejected", 2), ("agent_unavailable", 2), ("cancelled", 6), ("failed", 2))
CONNECTED_OUTCOMES = (("right_party_contact", 15), ("promise_to_pay", 12), ("refuses", 8), ("dispute", 3),
                      ("callback_requested", 7), ("wrong_number", 10), ("third_party_answered", 20),
                      ("deceased", 1), ("suspected_fraud", 1), ("left_message", 5), ("other", 18))
CALLS_PER_AGENT_DAY = 160
INSERT_SQL = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608


@dataclass(frozen=True)
class Plan:
    """Shape of the generated history."""

    calls: int
    seed: int = 1
    tz: str = "Asia/Shanghai"
    end: date = date(2025, 6, 30)
    clients: int = 8
    per_agent_day: int = CALLS_PER_AGENT_DAY

    @property
    def agents(self) -> int:
        """About 300 working days of history, 10..400 agents."""
        return max(10, min(400, math.ceil(self.calls / self.per_agent_day / 300)))


def _w(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def generate(plan: Plan) -> Iterator[tuple[Any, ...]]:
    """Rows (in ``COLUMNS`` order, datetimes aware UTC) of ``plan.calls`` ended calls, oldest first."""
    rng = random.Random(plan.seed)
    tz = ZoneInfo(plan.tz)
    agents = [f"a{i:03d}" for i in range(plan.agents)]
    team_of = {a: f"team{i // 10 + 1}" for i, a in enumerate(agents)}
    skill = {a: rng.uniform(0.7, 1.3) for a in agents}
    clients = [f"bank{i + 1}" for i in range(plan.clients)]
    client_of = {a: clients[i % plan.clients] for i, a in enumerate(agents)}
    per_day = max(1, plan.agents * plan.per_agent_day)
    days: list[date] = []
    d = plan.end
    while len(days) * per_day < plan.calls:
        if d.weekday() < 6:  # Monday..Saturday
            days.append(d)
        d -= timedelta(days=1)
    days.reverse()
    kinds, kind_w = _w(NUMBER_KINDS)
    misses, miss_w = _w(MISSES)
    outs, out_w = _w(CONNECTED_OUTCOMES)
    hours = list(range(8, 21))
    left = plan.calls
    for day in days:
        n = min(per_day, left)
        left -= n
        batch_suffix = f"{day.year}{day.month:02d}"
        starts = sorted(
            (rng.choices(hours, HOUR_WEIGHTS)[0] * 3600 + rng.randrange(3600), rng.choice(agents)) for _ in range(n))
        kind_draw = rng.choices(kinds, kind_w, k=n)
        for i, (sec, agent) in enumerate(starts):
            local = datetime(day.year, day.month, day.day, sec // 3600, sec % 3600 // 60, sec % 60,
                             rng.randrange(1_000_000), tzinfo=tz)
            created = local.astimezone(UTC)
            kind = kind_draw[i]
            hour_factor = 1.25 if sec // 3600 in (12, 13, 18, 19) else 1.0
            p_connect = 0.27 * skill[agent] * hour_factor * (0.6 if kind == "landline" else 1.0)
            originated = created + timedelta(milliseconds=rng.randrange(50, 400))
            agent_rings = originated + timedelta(seconds=rng.uniform(2, 8))
            if rng.random() < p_connect:
                reason = "completed"
                ring: float | None = round(rng.uniform(3, 25), 3)
                answered = agent_rings + timedelta(seconds=ring or 0.0)
                talk: float | None = round(min(3600.0, rng.lognormvariate(4.3, 0.9)), 3)
                ended = answered + timedelta(seconds=talk or 0.0)
                outcome: str | None = rng.choices(outs, out_w)[0]
                cause: int | None = 16
                cring: datetime | None = agent_rings
            else:
                reason = rng.choices(misses, miss_w)[0]
                answered = None
                outcome = None
                cause = {"customer_busy": 17, "customer_no_answer": 19, "customer_unreachable": 1
                         if rng.random() < 0.4 else 27}.get(reason, 16)
                cring = agent_rings if reason.startswith("customer") or reason == "cancelled" else None
                ring = round(rng.uniform(5, 40), 3) if cring else None
                ended = (cring or agent_rings) + timedelta(seconds=ring or rng.uniform(5, 30))
                if reason in ("customer_no_answer", "customer_busy") and rng.random() < 0.5:
                    outcome = "no_answer" if reason == "customer_no_answer" else "busy"
            talk_v = talk if reason == "completed" else None
            client = client_of[agent]
            yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), agent, team_of[agent], agent,
                   f"+86138{rng.randrange(10**8):08d}", kind, f"case-{rng.randrange(plan.calls // 3 + 1)}", client,
                   f"{client}-{batch_suffix}", "local", "1" + agent[1:], "ended", reason, cause, outcome, created,
                   originated, cring, answered, ended, ring, talk_v, "{}")


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                 for v in row)


async def load(db: Database, plan: Plan, *, chunk: int = 50_000) -> dict[str, float]:
    """Bulk-load ``plan`` into ``db`` (tables must exist), then rebuild the rollup; returns timings."""
    await install(db)
    t0 = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: set_triggers_sync(c, enabled=False))
    try:
        rows = generate(plan)
        while True:
            batch = [r for _, r in zip(range(chunk), rows, strict=False)]
            if not batch:
                break
            async with db.engine.begin() as conn:
                raw = await conn.get_raw_connection()
                if db.is_sqlite:
                    # random UUID keys and six indexes: a big page cache keeps the B-trees off the disk
                    await conn.exec_driver_sql("PRAGMA cache_size=-1000000")
                    await conn.exec_driver_sql(INSERT_SQL, [_sqlite_row(r) for r in batch])
                else:
                    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                        "calls", records=batch, columns=list(COLUMNS))
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: set_triggers_sync(c, enabled=True))
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE calls"))  # a bulk load leaves the planner without statistics
    t1 = time.perf_counter()
    rollup_rows = await rebuild(db)
    t2 = time.perf_counter()
    return {"insert_s": round(t1 - t0, 2), "rollup_s": round(t2 - t1, 2), "rollup_rows": rollup_rows}


async def _main(args: argparse.Namespace) -> None:
    async with Database(DatabaseSettings(url=args.db)) as db:
        if args.create:
            await migrate(db)
        stats = await load(db, Plan(calls=args.calls, seed=args.seed, tz=args.tz))
    print(f"{args.calls} calls: {stats}")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, required=True)
    p.add_argument("--db", required=True, help="database URL (sqlite+aiosqlite:///path or postgresql+asyncpg://)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tz", default="Asia/Shanghai")
    p.add_argument("--create", action="store_true", help="run the migrations first")
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
