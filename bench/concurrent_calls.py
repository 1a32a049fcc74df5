"""concurrent_calls_cpu_cores and concurrent_calls_rss_mb: the service tracking 1,000 calls at once (issue #15).

The composed service (SQLite file; PostgreSQL too with CALLGUARD_BENCH_PG_URL) against the replay PBX of
bench/call_lifecycle.py (the events Asterisk 22 really sent for an answered click-to-dial) with its 50 SSE
clients: ``--calls`` calls are placed at ``--rate`` per second (a supervisor dialling for as many agents, one
call each) and each talks ``--talk`` seconds, so that all of them are up together. Once every call is
answered, the service's CPU (``time.process_time()``) is measured over ``--window`` seconds, with its resident
set size (VmRSS) at the end of the window and its peak (VmHWM) over the whole run. The window must end before
the first call does (checked). Then every call must end ``completed`` with talk seconds.

Targets (issue #15): under 0.5 core and under 300 MB.

    /work/main/.venv/bin/python -m bench.concurrent_calls [--calls 1000] [--rate 10] [--talk 150] [--window 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import print_table, record  # noqa: E402
from bench.call_lifecycle import _check, _requests, running  # noqa: E402

TARGET_CORES = 0.5
TARGET_RSS_MB = 300.0


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (kB) in MB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _answered(container: Any) -> int:
    from sqlalchemy import func, select

    from dialer.models import Call

    async with container.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Call).where(Call.state == "answered")) or 0)


async def hold(db_url: str, label: str, calls: int, rate: float, talk_s: float, window_s: float,
               tmp: Path) -> dict[str, Any]:
    async with running(db_url, label, 0.1, talk_s, tmp, agents_n=calls) as (container, tokens, agents, load):
        await load.send({"requests": _requests(tokens, agents, calls, 10_000), "rate": rate})
        async with asyncio.timeout(calls / rate + 60):
            while True:
                if await _answered(container) >= calls:
                    break
                await asyncio.sleep(0.5)
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu, seconds = time.process_time() - cpu0, time.perf_counter() - t0
        rss = _status_mb("VmRSS")
        still = await _answered(container)
        if still != calls:
            raise RuntimeError(f"{label}: only {still} of {calls} calls were still up at the window's end: "
                               "a longer --talk is needed")
        out = await load.receive()
        if out["missing"] or len(out["ids"]) != calls:
            raise RuntimeError(f"{label}: {len(out['missing'])} calls never ended, {calls - len(out['ids'])} "
                               f"refused ({out['statuses']})")
        ends = await _check(container, out["ids"])
    return {"cores": cpu / seconds, "rss_mb": rss, "peak_rss_mb": _status_mb("VmHWM"), "window_s": round(seconds, 2),
            "ends": ends, "replay": out["replay"]}


async def main(calls: int, rate: float, talk_s: float, window_s: float) -> None:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cg-bench-concurrent-") as tmp_s:
        tmp = Path(tmp_s)
        results["sqlite"] = await hold(f"sqlite+aiosqlite:///{tmp / 'svc.db'}", "sqlite", calls, rate, talk_s,
                                       window_s, tmp)
        admin = os.environ.get("CALLGUARD_BENCH_PG_URL")
        if admin:
            from bench import originate_overhead as oo

            url = await oo.fresh_pg_database(admin, "bench_concurrent")
            results["postgresql"] = await hold(url, "postgresql", calls, rate, talk_s, window_s, tmp)
        else:
            print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
    names = []
    for db, r in results.items():
        print(f"{db}: {r['cores']:.3f} cores, {r['rss_mb']:.0f} MB RSS (peak {r['peak_rss_mb']:.0f} MB) "
              f"with {calls} calls up", flush=True)
        suffix = "" if db == "sqlite" else f"_{db}"
        extra = {"db": db, "calls": calls, "rate_per_s": rate, "talk_s": talk_s, "window_s": r["window_s"],
                 "peak_rss_mb": round(r["peak_rss_mb"], 1), "ends": r["ends"]}
        record("concurrent_calls_cpu_cores" + suffix, "cores", round(r["cores"], 4), {"target": TARGET_CORES}, extra)
        record("concurrent_calls_rss_mb" + suffix, "MB", round(r["rss_mb"], 1), {"target": TARGET_RSS_MB}, extra)
        names += ["concurrent_calls_cpu_cores" + suffix, "concurrent_calls_rss_mb" + suffix]
    print_table(names)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_CONCURRENT_CALLS", "1000")))
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--talk", type=float, default=150.0)
    ap.add_argument("--window", type=float, default=15.0)
    a = ap.parse_args()
    asyncio.run(main(a.calls, a.rate, a.talk, a.window))
