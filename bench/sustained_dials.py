"""sustained_dial_p99_ms: Poisson dials at 100/s for 60 s, p99 from request to Originate written (issue #15).

The composed service (SQLite file; PostgreSQL too with CALLGUARD_BENCH_PG_URL, a fresh database
``bench_sustained``) runs against the replay PBX, with the load process, its 50 SSE clients and its
supervisor dialling for 50 agents exactly as in bench/call_lifecycle.py (its ``running``): each call is
answered and ended by the replay PBX after a short talk, so the service pays each call's whole life while
the dials keep coming. The ``POST /v1/calls`` are sent with Poisson arrivals (exponential gaps, a fixed
seed) at ``--rate`` for ``--seconds``.

Request to Originate written, per dial: from the load process's send (``time.perf_counter()`` just before
the POST) to the service process's write of that dial's Originate (bench/originate_overhead.py's timed
``StreamWriter.write`` and ``X-Bench-Id`` marks). Both processes read CLOCK_MONOTONIC, so the span includes
any queueing before the request reaches the application; the span from the application's first middleware
(originate_overhead's definition) is recorded too.

Not keeping up: the load waits ``--drain`` seconds after its last send for the answers, then gives up on
the rest (they are cancelled and counted). A dial whose Originate was not written by then counts with its
wait so far as a lower bound; when more of them than the quantile leaves out, the figure is marked a lower
bound (``p99_is_lower_bound``). Every dial sent is accounted for: Originate written by the cut-off, refused
(non-202 with no Originate), or not originated by the cut-off (of which some were written later, before the
service stopped; the rest were cancelled at shutdown).

Service CPU: ``time.process_time()`` of the service, sampled every 0.5 s, over the sending window, divided
by its wall time (cores). The same is measured first at ``--sustainable-rate`` (one the machine keeps up
with), so the results show where the p99 holds and where the queue grows. Target 50 ms.

    /work/main/.venv/bin/python -m bench.sustained_dials [--rate 100] [--seconds 60] [--sustainable-rate 10]
        [--sustainable-seconds 20] [--drain 15] [--talk 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import print_table, record  # noqa: E402

TARGET_P99_MS = 50.0
SAMPLE_S = 0.5
SEED = 15


def poisson_offsets(rate: float, seconds: float, seed: int) -> list[float]:
    """Send times (s from the start) of a Poisson process at ``rate`` per second over ``seconds``."""
    rng = random.Random(seed)
    out: list[float] = []
    t = rng.expovariate(rate)
    while t < seconds:
        out.append(t)
        t += rng.expovariate(rate)
    return out


@contextlib.asynccontextmanager
async def cpu_samples() -> AsyncIterator[list[tuple[float, float]]]:
    """(perf_counter, process_time) of this process every SAMPLE_S while inside."""
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        while True:
            samples.append((time.perf_counter(), time.process_time()))
            await asyncio.sleep(SAMPLE_S)

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        samples.append((time.perf_counter(), time.process_time()))


def cores_between(samples: list[tuple[float, float]], t0: float, t1: float) -> float:
    """CPU seconds per second of this process between perf_counter times ``t0`` and ``t1`` (nearest samples)."""
    a = min(samples, key=lambda s: abs(s[0] - t0))
    b = min(samples, key=lambda s: abs(s[0] - t1))
    return (b[1] - a[1]) / (b[0] - a[0]) if b[0] > a[0] else 0.0


def quantiles(spans: list[tuple[float, bool]]) -> dict[str, Any]:
    """p50/p99/max in ms of (seconds, censored) spans; a censored span is a lower bound (not yet written)."""
    from bench.originate_overhead import pct

    values = [v * 1000 for v, _ in spans]
    censored = sum(1 for _, c in spans if c)
    out: dict[str, Any] = {"n": len(spans), "censored": censored}
    for name, q in (("p50", 0.50), ("p99", 0.99)):
        out[f"{name}_ms"] = round(pct(values, q), 2) if values else None
        # the q-quantile's rank: the censored spans all rank above it, or it is only a lower bound
        rank = max(1, min(len(values), round(q * len(values) + 0.5)))
        out[f"{name}_is_lower_bound"] = censored > len(values) - rank
    out["max_ms"] = round(max(values), 2) if values else None
    out["max_is_lower_bound"] = censored > 0
    return out


async def one_rate(container: Any, load: Any, tokens: list[str], agents: list[str], label: str, rate: float,
                   seconds: float, drain_s: float, end_s: float, base: int, seed: int) -> dict[str, Any]:
    """Poisson dials at ``rate`` for ``seconds``; every dial's fate and the span to its Originate."""
    from bench import originate_overhead as oo
    from bench.call_lifecycle import _requests

    offsets = poisson_offsets(rate, seconds, seed)
    requests = _requests(tokens, agents, len(offsets), base)
    for i, req in enumerate(requests):
        req["bid"] = f"{label}-{i}"
    async with cpu_samples() as samples:
        await load.send({"requests": requests, "offsets": offsets, "answer_timeout_s": drain_s,
                         "end_timeout_s": end_s})
        out = await load.receive()
        t_report = time.perf_counter()
    t0, t_sent, t_cut = out["t0"], out["t_sent"], out["t_cut"]
    spans: list[tuple[float, bool]] = []
    app_spans: list[float] = []
    fate = {"originated_by_cutoff": 0, "refused": 0, "not_originated_by_cutoff": 0,
            "originated_after_cutoff": 0, "reached_app_by_cutoff": 0}
    statuses: dict[str, int] = {}
    for req in requests:
        bid = req["bid"]
        sent = out["sent"][bid]
        status, _t_answer = out["answered"].get(bid, ["unanswered", None])
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        arrival = oo.arrivals.get(bid)
        if arrival is not None and arrival <= t_cut:
            fate["reached_app_by_cutoff"] += 1
        written = oo.marks.get(bid, {}).get("written")
        if written is not None and written <= t_cut:
            fate["originated_by_cutoff"] += 1
            spans.append((written - sent, False))
            if arrival is not None:
                app_spans.append(written - arrival)
        elif status != 202 and status != "unanswered" and written is None:
            fate["refused"] += 1
        else:
            fate["not_originated_by_cutoff"] += 1
            spans.append((t_cut - sent, True))
            if written is not None:
                fate["originated_after_cutoff"] += 1
    window = t_sent - t0
    return {"rate_per_s": rate, "seconds": seconds, "requested": len(requests),
            "offered_rate_per_s": round(len(requests) / window, 2) if window else None,
            "send_lag_ms": out["send_lag_ms"], **fate,
            "originates_per_s_to_cutoff": round(fate["originated_by_cutoff"] / (t_cut - t0), 2),
            "statuses": statuses, "unanswered_at_cutoff": out["unanswered"],
            "errors": sum(n for s, n in statuses.items() if s != "202"),
            "span": quantiles(spans),
            "span_from_app_arrival": quantiles([(v, False) for v in app_spans]),
            "service_cores_sending": round(cores_between(samples, t0, t_sent), 3),
            "service_cores_to_cutoff": round(cores_between(samples, t0, t_cut), 3),
            "drain_s": drain_s, "cutoff_after_last_send_s": round(t_cut - t_sent, 2),
            "report_after_cutoff_s": round(t_report - t_cut, 2),
            "calls_accepted": len(out["ids"]), "calls_not_ended_in_time": len(out["missing"]),
            "end_timeout_s": end_s, "dead_sse_streams": out["dead_streams"][:3],
            "replay_cumulative": {k: out["replay"][k] for k in ("originated", "completed", "no_go")}}


async def database(db_url: str, label: str, args: argparse.Namespace, tmp: Path, base: int) -> dict[str, Any]:
    """Warm-up, the sustainable rate, then the target rate, on one composed service."""
    from bench.call_lifecycle import running

    out: dict[str, Any] = {}
    async with running(db_url, label, args.ring, args.talk, tmp, shutdown_timeout=5.0) as (
            container, tokens, agents, load):
        warm = await one_rate(container, load, tokens, agents, f"{label}-warm", args.sustainable_rate, 3.0,
                              args.drain, 30.0, base, SEED - 1)
        print(f"{label} warm-up: {warm['span']} {warm['statuses']}", flush=True)
        out["sustainable"] = await one_rate(container, load, tokens, agents, f"{label}-low", args.sustainable_rate,
                                            args.sustainable_seconds, args.drain, 30.0, base + 1_000, SEED + 1)
        print(f"{label} at {args.sustainable_rate:g}/s: {out['sustainable']}", flush=True)
        out["target"] = await one_rate(container, load, tokens, agents, f"{label}-high", args.rate, args.seconds,
                                       args.drain, 10.0, base + 10_000, SEED)
        print(f"{label} at {args.rate:g}/s: {out['target']}", flush=True)
        t = time.perf_counter()
    out["target"]["shutdown_s"] = round(time.perf_counter() - t, 2)
    return out


async def main(args: argparse.Namespace) -> None:
    from bench import originate_overhead as oo

    load_before = os.getloadavg()
    cpus = os.cpu_count()
    print(f"cpus {cpus}, load average before {load_before}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    with oo.timed_writes(), tempfile.TemporaryDirectory(prefix="cg-bench-sustained-") as tmp_s:
        tmp = Path(tmp_s)
        results["sqlite"] = await database(f"sqlite+aiosqlite:///{tmp / 'svc.db'}", "sqlite", args, tmp, 100_000)
        admin = os.environ.get("CALLGUARD_BENCH_PG_URL")
        if admin:
            url = await oo.fresh_pg_database(admin, "bench_sustained")
            results["postgresql"] = await database(url, "postgresql", args, tmp, 500_000)
        else:
            print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
    names = []
    for db, r in results.items():
        suffix = "" if db == "sqlite" else f"_{db}"
        common = {"db": db, "cpu_count": cpus, "load_average_before": [round(x, 2) for x in load_before],
                  "ring_s": args.ring, "talk_s": args.talk, "sse_clients": _sse_clients(), "seed": SEED,
                  "machine_note": args.note}
        for key, rate_name in (("target", ""), ("sustainable", "_sustainable_rate")):
            rr, other = r[key], r["sustainable" if key == "target" else "target"]
            name = f"sustained_dial_p99_ms{rate_name}{suffix}"
            summary = {k: other[k] for k in ("rate_per_s", "requested", "originated_by_cutoff",
                                             "not_originated_by_cutoff", "errors", "service_cores_sending")}
            record(name, "ms", rr["span"]["p99_ms"] or 0.0, {"target": TARGET_P99_MS},
                   {**common, **rr, "other_rate": {**summary, "span": other["span"]}})
            names.append(name)
    print_table(names)


def _sse_clients() -> int:
    from bench.call_lifecycle import SSE_CLIENTS

    return SSE_CLIENTS


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_SUSTAINED_RATE", "100")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SUSTAINED_SECONDS", "60")))
    ap.add_argument("--sustainable-rate", type=float, default=10.0)
    ap.add_argument("--sustainable-seconds", type=float, default=20.0)
    ap.add_argument("--drain", type=float, default=15.0,
                    help="seconds after the last send to wait for answers before counting the rest")
    ap.add_argument("--ring", type=float, default=0.1)
    ap.add_argument("--talk", type=float, default=1.0)
    ap.add_argument("--note", default="", help="a note on the machine's state, recorded with the results")
    asyncio.run(main(ap.parse_args()))
