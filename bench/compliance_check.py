"""compliance_check_ms_p99 / _p50: ``ComplianceGate.check`` with 1,000,000 calls in the ledger.

The whole check as a dial runs it (case and number facts from the cases tables, the policy, the ledger
SQL over ``calls``, the pure ``evaluate``, the decision-log insert), each in its own transaction that is
begun before the clock starts and rolled back after it stops, so the ledger never grows. Default
profile CN, at a fixed instant (Monday 2025-06-30 12:00 Asia/Shanghai) inside the calling window.

Ledger: N calls (default 1,000,000) to N/10 cases of 8 clients (1-3 own numbers each, a fifth with a
third-party number), skewed (the busiest debtor has ~140 calls), 45 % in the last 7 days and the rest over the
83 days before; about a quarter answered with talk time. Checks pick debtors with the same skew.
Cached: SQLite under bench/.data/, PostgreSQL as database ``bench_compliance_<version>_<n>_<seed>``.

Baselines measured in the same run, over the same checks: ``evaluate_only`` (the pure rule evaluation
inside each check: the floor) and ``indexed_count_query`` (one ``SELECT count(*)`` on the number's
(number, created_at) index, in a transaction, with the same begin/rollback).

Env: BENCH_COMPLIANCE_CALLS (1_000_000), BENCH_COMPLIANCE_CHECKS (2_000), CALLGUARD_BENCH_PG_URL.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

import compliance.service as gate_module  # noqa: E402
from analytics.ddl import set_triggers_sync  # noqa: E402
from auth.models import Role  # noqa: E402
from auth.service import Principal  # noqa: E402
from bench._common import print_table, record  # noqa: E402
from cases.directory import CaseDirectoryAdapter  # noqa: E402
from compliance.service import ComplianceGate  # noqa: E402
from config.settings import DatabaseSettings, load_settings  # noqa: E402
from core.clock import Clock  # noqa: E402
from core.events import EventLog  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import migrate  # noqa: E402
from dialer.gate import DialRequest  # noqa: E402

SEED = 1
NOW = datetime(2025, 6, 30, 4, 0, tzinfo=UTC)  # Monday 12:00 in Asia/Shanghai
TARGET_P99_MS = 5.0
CLIENTS = 8
WARMUP = 200
SKEW = 1.3  # debtor k of N is picked with P ~ (k/N)^(1/SKEW): at 1 M calls the busiest has ~140 calls in 90 days
DATASET = "v2"  # bump when the generator changes: cached datasets are keyed by it
CALL_COLUMNS = ("id", "agent_id", "team", "requested_by", "number", "number_kind", "case_id", "client_id",
                "batch_id", "debtor_key", "pbx", "sip_user", "state", "end_reason", "outcome", "created_at",
                "customer_ringing_at", "answered_at", "ended_at", "talk_seconds", "facts")
CASE_COLUMNS = ("id", "client_id", "batch_id", "external_id", "debtor_name", "amount", "currency", "days_overdue",
                "region", "timezone", "status", "fingerprint", "created_at", "updated_at")
CONTACT_COLUMNS = ("id", "case_id", "number", "kind", "relation", "status", "status_source",
                   "third_party_objected", "updated_at")


@dataclass(frozen=True)
class CaseRow:
    """One generated case: ids, its debtor key and its numbers (kind, number)."""

    id: str
    client_id: str
    external_id: str
    numbers: tuple[tuple[str, str], ...]

    @property
    def debtor_key(self) -> str:
        """As ``cases.models.debtor_key``."""
        return f"{self.client_id}:{self.external_id}"


def gen_cases(n: int, seed: int) -> list[CaseRow]:
    """``n`` cases with 1-3 own numbers and (a fifth of them) a third-party number; deterministic."""
    rng = random.Random(seed)
    out = []
    serial = 0
    for k in range(n):
        nums: list[tuple[str, str]] = [("mobile", f"+86139{serial:08d}")]
        serial += 1
        for kind, p in (("home", 0.4), ("work", 0.3), ("third_party", 0.2)):
            if rng.random() < p:
                prefix = "+86137" if kind == "third_party" else "+86105"
                nums.append((kind, f"{prefix}{serial:08d}"))
                serial += 1
        cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append(CaseRow(cid, f"bank{k % CLIENTS + 1}", f"ext-{k}", tuple(nums)))
    return out


def pick(rng: random.Random, cases: list[CaseRow]) -> tuple[CaseRow, str, str]:
    """A skewed debtor (low indexes dialled more) and one of its numbers (own 90 %)."""
    case = cases[int(len(cases) * rng.random() ** SKEW)]
    third = [num for kind, num in case.numbers if kind == "third_party"]
    own = [num for kind, num in case.numbers if kind != "third_party"]
    if third and rng.random() < 0.1:
        return case, third[0], "third_party"
    return case, rng.choice(own), "own"


def gen_calls(n: int, cases: list[CaseRow], seed: int) -> Iterator[tuple[Any, ...]]:
    """``n`` ended calls (in ``CALL_COLUMNS`` order), all before ``NOW``, 45 % in the last 7 days."""
    rng = random.Random(seed + 1)
    for _ in range(n):
        case, number, kind = pick(rng, cases)
        day = rng.randrange(7) if rng.random() < 0.45 else rng.randrange(7, 90)
        created = (NOW - timedelta(days=day)).replace(hour=0, minute=0) + timedelta(seconds=rng.randrange(13 * 3600))
        if created >= NOW:
            created -= timedelta(days=7)
        agent = f"a{rng.randrange(400):03d}"
        r = rng.random()
        ring = created + timedelta(seconds=rng.uniform(3, 10))
        if r < 0.25:
            answered: datetime | None = ring + timedelta(seconds=rng.uniform(3, 20))
            talk: float | None = round(min(3600.0, rng.lognormvariate(4.0, 1.0)), 3)
            ended = answered + timedelta(seconds=talk or 0.0)
            reason, outcome = "completed", rng.choice(("right_party_contact", "promise_to_pay", "refuses",
                                                       "third_party_answered", "callback_requested", "other"))
            cring: datetime | None = ring
        elif r < 0.85:
            answered, talk, cring = None, None, ring
            ended = ring + timedelta(seconds=rng.uniform(5, 40))
            reason, outcome = rng.choice(("customer_no_answer", "customer_busy", "customer_unreachable")), None
        else:
            answered, talk, cring = None, None, None
            ended = ring + timedelta(seconds=rng.uniform(5, 30))
            reason, outcome = "agent_no_answer", None
        yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), agent, f"team{int(agent[1:]) // 10}", agent,
               number, kind, case.id, case.client_id, f"{case.client_id}-2025", case.debtor_key, "local",
               "1" + agent[1:], "ended", reason, outcome, created, cring, answered, ended, talk, "{}")


def case_rows(cases: list[CaseRow]) -> list[tuple[Any, ...]]:
    """Rows of the cases table (``CASE_COLUMNS``)."""
    at = NOW - timedelta(days=120)
    return [(c.id, c.client_id, f"{c.client_id}-2025", c.external_id, f"Debtor {c.external_id}", 1000, "CNY", 90,
             None, None, "active", c.id.replace("-", ""), at, at) for c in cases]


def contact_rows(cases: list[CaseRow]) -> list[tuple[Any, ...]]:
    """Rows of the case_contacts table (``CONTACT_COLUMNS``)."""
    at = NOW - timedelta(days=120)
    return [(f"{c.id[:-4]}{i:04d}", c.id, num, kind, "sibling" if kind == "third_party" else None, "valid",
             "case_system", False, at) for c in cases for i, (kind, num) in enumerate(c.numbers)]


def _sqlite(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row)


async def _insert(db: Database, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.exec_driver_sql("PRAGMA cache_size=-1000000")
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
            await conn.exec_driver_sql(sql, [_sqlite(r) for r in rows])
        else:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                table, records=rows, columns=list(columns))


async def ensure_ledger(db: Database, n: int, cases: list[CaseRow]) -> None:
    """Create and fill the ledger unless it already holds exactly ``n`` calls (a cached dataset)."""
    await migrate(db)
    async with db.read() as s:
        have = (await s.execute(text("SELECT count(*) FROM calls"))).scalar_one()
        have_cases = (await s.execute(text("SELECT count(*) FROM cases"))).scalar_one()
    if have == n and have_cases == len(cases):
        print(f"  cached ledger: {n:,} calls, {len(cases):,} cases", flush=True)
        return
    t = time.perf_counter()
    async with db.engine.begin() as conn:
        for table in ("compliance_decisions", "calls", "case_contacts", "cases"):
            await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        await conn.run_sync(lambda c: set_triggers_sync(c, enabled=False))
    try:
        await _insert(db, "cases", CASE_COLUMNS, case_rows(cases))
        await _insert(db, "case_contacts", CONTACT_COLUMNS, contact_rows(cases))
        rows = gen_calls(n, cases, SEED)
        while batch := [r for _, r in zip(range(50_000), rows, strict=False)]:
            await _insert(db, "calls", CALL_COLUMNS, batch)
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: set_triggers_sync(c, enabled=True))
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    print(f"  generated {n:,} calls and {len(cases):,} cases in {time.perf_counter() - t:.0f} s", flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q * len(s) + 0.5) - 1))]


class Timed:
    """Wraps ``owner.name`` (a function or method) and keeps each call's duration in ms (while on)."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name
        self.original = getattr(owner, name)
        self.samples: list[float] = []
        self.on = False
        is_async = asyncio.iscoroutinefunction(self.original)

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            result = await self.original(*args, **kwargs)
            if self.on:
                self.samples.append((time.perf_counter() - t) * 1000)
            return result

        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            result = self.original(*args, **kwargs)
            if self.on:
                self.samples.append((time.perf_counter() - t) * 1000)
            return result

        setattr(owner, name, async_wrapper if is_async else sync_wrapper)

    def restore(self) -> None:
        """Put the original back."""
        setattr(self.owner, self.name, self.original)

    def summary(self) -> dict[str, float]:
        """p50 and p99 in ms."""
        return {"p50": round(pct(self.samples, 0.5), 4), "p99": round(pct(self.samples, 0.99), 4)}


async def bench(url: str, label: str, n: int, checks: int) -> list[str]:
    """Fill (or reuse) the ledger on ``url``, then time the gate and the baselines."""
    settings = load_settings(None, database={"url": url})
    cases = gen_cases(max(1, n // 10), SEED)
    async with Database(DatabaseSettings(url=url)) as db:
        await ensure_ledger(db, n, cases)
        gate = ComplianceGate(db=db, events=EventLog(), settings=settings.compliance, dialer=settings.dialer,
                              clock=Clock(), cases=CaseDirectoryAdapter())
        principal = Principal(user_id="a001", role=Role.AGENT, team="team0")
        rng = random.Random(SEED + 2)
        picks = [pick(rng, cases) for _ in range(WARMUP + checks)]
        timers = [Timed(gate_module, "evaluate"), Timed(gate_module, "ledger_counts"), Timed(gate, "_case_info"),
                  Timed(gate, "_policy"), Timed(gate, "_log")]
        check_ms: list[float] = []
        count_ms: list[float] = []
        outcomes: dict[str, int] = {}
        gc.collect()
        gc.freeze()  # the generated cases are the bench's, not the service's: keep them out of GC passes
        try:
            for i, (case, number, _kind) in enumerate(picks):
                measured = i >= WARMUP
                for t in timers:
                    t.on = measured
                req = DialRequest(call_id=str(uuid.uuid4()), agent_id="a001", team="team0", number=number,
                                  case_id=case.id, principal=principal, now=NOW)
                async with db.sessionmaker() as s:
                    await s.connection()  # BEGIN (IMMEDIATE on SQLite) before the clock starts
                    t0 = time.perf_counter()
                    decision = await gate.check(s, req)
                    t1 = time.perf_counter()
                    await s.rollback()
                async with db.sessionmaker() as s:
                    await s.connection()
                    t2 = time.perf_counter()
                    await s.execute(text("SELECT count(*) FROM calls WHERE number = :n AND created_at >= :since"),
                                    {"n": number, "since": _bind_time(db, NOW - timedelta(days=1))})
                    t3 = time.perf_counter()
                    await s.rollback()
                if measured:
                    check_ms.append((t1 - t0) * 1000)
                    count_ms.append((t3 - t2) * 1000)
                    key = "allowed" if decision.allowed else f"blocked:{decision.body.get('code')}"
                    outcomes[key] = outcomes.get(key, 0) + 1
        finally:
            gc.unfreeze()
            for t in timers:
                t.restore()
    evaluate_ms = timers[0].samples
    extra = {"db": label, "calls": n, "cases": len(cases), "checks": checks,
             "profile": settings.compliance.default_profile, "now": NOW.isoformat(), "outcomes": outcomes,
             "max_ms": round(max(check_ms), 3), "steps_ms": {t.name.lstrip("_"): t.summary() for t in timers}}
    names = []
    for q, qv in (("p99", 0.99), ("p50", 0.5)):
        base = {"evaluate_only": round(pct(evaluate_ms, qv), 4), "indexed_count_query": round(pct(count_ms, qv), 4)}
        if q == "p99":
            base["target"] = TARGET_P99_MS
        name = f"compliance_check_ms_{q}_{label}"
        record(name, "ms", round(pct(check_ms, qv), 3), base, extra)
        names.append(name)
    return names


def _bind_time(db: Database, value: datetime) -> Any:
    """A datetime as the driver compares it with stored values (SQLite keeps naive UTC text)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if db.is_sqlite else value


async def pg_database(admin: str, name: str) -> str:
    """Database ``name`` next to ``admin``'s (created if missing); its URL."""
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        if not (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})).first():
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name


async def main() -> None:
    """SQLite always; PostgreSQL when CALLGUARD_BENCH_PG_URL is set."""
    n = int(os.environ.get("BENCH_COMPLIANCE_CALLS", "1000000"))
    checks = int(os.environ.get("BENCH_COMPLIANCE_CHECKS", "2000"))
    print(f"compliance_check: {n:,} calls in the ledger, {checks:,} checks per database", flush=True)
    data = ROOT / "bench" / ".data"
    data.mkdir(parents=True, exist_ok=True)
    names = await bench(f"sqlite+aiosqlite:///{data / f'compliance-{DATASET}-{n}-seed{SEED}.db'}", "sqlite", n, checks)
    admin = os.environ.get("CALLGUARD_BENCH_PG_URL")
    if admin:
        url = await pg_database(admin, f"bench_compliance_{DATASET}_{n}_{SEED}")
        names += await bench(url, "postgresql", n, checks)
    else:
        print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
    print_table(names)


if __name__ == "__main__":
    asyncio.run(main())
