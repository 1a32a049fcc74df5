"""campaign_next_ms_p99 / _p50: ``CampaignService.next`` in a campaign of 100,000 cases (SQLite).

50 agents each hold 2,000 of the campaign's cases (one own number each, received over the last 10 days,
days overdue 1-400). Each measured pick is a whole ``next()``: the agent's presence, its running campaigns,
its due callbacks, the pick read from ``ix_campaign_entries_next`` in the index's own order, the number rules
over the case's calls, the compliance gate's dry run (profile DEMO: logged, never counted) and the claim;
the offer is skipped outside the clock, so every pick is a fresh one. Before timing, the pick's query plan is
checked: the index is searched, the campaign table is never scanned and nothing is sorted.

Baselines measured in the same run: ``pick_query`` (the pick's SELECT alone, the same candidates) and
``sorted_scan`` (the same SELECT ordered by expressions the index cannot give: every pending entry of the
agent is read and sorted, what the pick would cost without its index).

Env: BENCH_CAMPAIGN_CASES (100_000), BENCH_CAMPAIGN_PICKS (500).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from auth.models import Role  # noqa: E402
from auth.service import Principal, create_user  # noqa: E402
from bench._common import print_table, record  # noqa: E402
from campaigns.models import CampaignEntry  # noqa: E402
from campaigns.service import CampaignService, pick_query  # noqa: E402
from cases.directory import CaseDirectoryAdapter  # noqa: E402
from cases.models import Case, CaseContact  # noqa: E402
from compliance.service import ComplianceGate  # noqa: E402
from config.settings import CampaignSettings, DatabaseSettings, load_settings  # noqa: E402
from core.clock import FakeClock  # noqa: E402
from core.events import EventLog  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import migrate  # noqa: E402
from dialer.service import CallService  # noqa: E402
from presence.guard import PresenceGate  # noqa: E402
from presence.service import PresenceService  # noqa: E402

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
AGENTS = 50


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _seed(db: Database, n: int) -> None:
    rng = random.Random(1)
    async with db.begin() as s:
        for a in range(AGENTS):
            await create_user(s, user_id=f"a{a:02d}", role=Role.AGENT, sip_user=f"{2000 + a}", team="t1",
                              clients=["bank1"])
        await create_user(s, user_id="sup", role=Role.SUPERVISOR, team="t1", clients=["bank1"])
    cases: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for k in range(n):
        cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        received = NOW - timedelta(seconds=rng.randrange(10 * 86400))
        cases.append({"id": cid, "client_id": "bank1", "batch_id": "B1", "external_id": f"e{k}", "debtor_name": "x",
                      "amount": 100, "currency": "CNY", "days_overdue": rng.randrange(1, 400),
                      "timezone": "Asia/Shanghai", "status": "active", "assigned_agent": f"a{k % AGENTS:02d}",
                      "team": "t1", "received_at": received, "fingerprint": "f", "created_at": received,
                      "updated_at": received})
        contacts.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "case_id": cid,
                         "number": f"+86139{k:08d}", "kind": "mobile", "status": "valid",
                         "status_source": "case_system", "third_party_objected": False, "updated_at": received})
    async with db.begin() as s:
        for i in range(0, n, 5000):
            await s.execute(insert(Case), cases[i:i + 5000])
            await s.execute(insert(CaseContact), contacts[i:i + 5000])


def _pick_sql(campaign_id: str, agent: str, *, sorted_scan: bool) -> Any:
    """The service's own pick query, or (baseline) the same ordered by expressions no index gives."""
    if not sorted_scan:
        return pick_query(campaign_id, agent, NOW)
    e = CampaignEntry
    return select(e).where(e.campaign_id == campaign_id, e.state == "pending", e.assigned_agent == agent,
                           e.next_at <= NOW).order_by(e.tier + 0, e.first_call_by, e.priority + 0, e.next_at,
                                                      e.id).limit(20)


async def main() -> None:
    n = int(os.environ.get("BENCH_CAMPAIGN_CASES", "100000"))
    picks = int(os.environ.get("BENCH_CAMPAIGN_PICKS", "500"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp}/bench.db"},
                                 compliance={"default_profile": "DEMO"})
        async with Database(DatabaseSettings(url=settings.database.url)) as db:
            await migrate(db)
            t0 = time.perf_counter()
            await _seed(db, n)
            seeded = time.perf_counter() - t0
            clock = FakeClock(NOW)
            events = EventLog()
            gate = ComplianceGate(db=db, events=events, settings=settings.compliance, dialer=settings.dialer,
                                  clock=clock, cases=CaseDirectoryAdapter())
            presence = PresenceService(db=db, events=events, clock=clock, settings=settings.presence)
            calls = CallService(db=db, events=events, pbx=None, gate=PresenceGate(gate, presence),  # type: ignore[arg-type]
                                settings=settings.dialer, clock=clock)
            svc = CampaignService(db=db, events=events, clock=clock, gate=gate, presence=presence, calls=calls,
                                  settings=CampaignSettings())
            sup = Principal("sup", Role.SUPERVISOR, team="t1", clients=frozenset({"bank1"}))
            t0 = time.perf_counter()
            campaign = await svc.create(sup, client_id="bank1", name="bench")
            created = time.perf_counter() - t0
            await svc.change(sup, campaign.id, "start")
            agents = [Principal(f"a{a:02d}", Role.AGENT, team="t1", clients=frozenset({"bank1"}))
                      for a in range(AGENTS)]
            for a in agents:
                await svc.join(a, campaign.id, a.user_id)
            async with db.read() as s:
                plan = [str(r[-1]) for r in (await s.execute(text("EXPLAIN QUERY PLAN " + str(
                    _pick_sql(campaign.id, "a00", sorted_scan=False).compile(
                        compile_kwargs={"literal_binds": True}))))).all()]
            assert any("ix_campaign_entries_next" in p for p in plan), plan
            assert not any("TEMP B-TREE" in p or p.startswith("SCAN campaign_entries") for p in plan), plan
            next_ms: list[float] = []
            for i in range(picks):
                agent = agents[i % AGENTS]
                t0 = time.perf_counter()
                offer = await svc.next(agent, agent.user_id)
                next_ms.append((time.perf_counter() - t0) * 1000)
                assert offer is not None
                await svc.skip(agent, agent.user_id, "bench")
            query_ms: list[float] = []
            scan_ms: list[float] = []
            for i in range(min(picks, 200)):
                agent = agents[i % AGENTS].user_id
                for sorted_scan, out in ((False, query_ms), (True, scan_ms)):
                    async with db.read() as s:
                        t0 = time.perf_counter()
                        (await s.scalars(_pick_sql(campaign.id, agent, sorted_scan=sorted_scan))).all()
                        out.append((time.perf_counter() - t0) * 1000)
    p99, p50 = _percentile(next_ms, 0.99), statistics.median(next_ms)
    extra = {"cases": n, "picks": picks, "agents": AGENTS, "backend": "sqlite", "seed_s": round(seeded, 1),
             "create_campaign_s": round(created, 2), "plan": plan}
    record("campaign_next_ms_p99", "ms", round(p99, 3),
           {"pick_query_p99": round(_percentile(query_ms, 0.99), 3),
            "sorted_scan_p99": round(_percentile(scan_ms, 0.99), 3)}, extra)
    record("campaign_next_ms_p50", "ms", round(p50, 3),
           {"pick_query_p50": round(statistics.median(query_ms), 3),
            "sorted_scan_p50": round(statistics.median(scan_ms), 3)}, extra)
    print_table(["campaign_next_ms_p99", "campaign_next_ms_p50"])


if __name__ == "__main__":
    asyncio.run(main())
