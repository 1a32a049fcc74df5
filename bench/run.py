"""Run every benchmark (``make bench``), each as a subprocess with a timeout, then print one table.

A benchmark that fails or times out is noted and the others still run. The table lists every entry of
bench/results.json with its value, its unit and the ratio of the value to each baseline; entries this
run did not refresh are marked as such.

Sizes: the scripts' defaults (override through their env vars), so the PostgreSQL analytics dataset is the
issue's 10,000,000 calls (BENCH_PG_CALLS; generated once, then cached as a database: the first run takes
far longer than the rest together). BENCH_ONLY=name,name runs a subset; BENCH_TIMEOUT_SCALE scales the timeouts.

    CALLGUARD_BENCH_PG_URL=$(scripts/pg-up) .venv/bin/python bench/run.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, fmt  # noqa: E402


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its module, extra arguments, timeout and a note on its size."""

    name: str
    args: tuple[str, ...] = ()
    timeout_s: float = 900.0
    env: dict[str, str] = field(default_factory=dict)


BENCHES = (
    Bench("ami_parse", timeout_s=600),
    Bench("ami_events", timeout_s=300),
    Bench("originate_overhead", timeout_s=600),
    Bench("call_lifecycle", timeout_s=900),
    Bench("sustained_dials", timeout_s=600),
    Bench("concurrent_calls", timeout_s=1200),
    Bench("compliance_check", timeout_s=1800),
    Bench("hook_delivery", timeout_s=600),
    Bench("recording_ingest", timeout_s=900),
    Bench("recording_latency", timeout_s=900),
    Bench("report", timeout_s=5400),
    Bench("campaign_pick", timeout_s=900),
    Bench("console", timeout_s=300),
)


def _load() -> list[dict[str, Any]]:
    try:
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    benchmarks = data.get("benchmarks", []) if isinstance(data, dict) else []
    return [b for b in benchmarks if isinstance(b, dict)]


def run_one(b: Bench, scale: float) -> tuple[str, float]:
    """Run one benchmark module from the repository root; (outcome, seconds)."""
    env = dict(os.environ)
    for key, value in b.env.items():
        if key not in env:
            env[key] = value
            print(f"[{b.name}] {key}={value} (run.py default; set it to override)", flush=True)
    cmd = [sys.executable, "-m", f"bench.{b.name}", *b.args]
    print(f"\n=== {b.name}: {' '.join(cmd[1:])} (timeout {b.timeout_s * scale:.0f} s)", flush=True)
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, timeout=b.timeout_s * scale, check=False)
    except subprocess.TimeoutExpired:
        return f"TIMEOUT after {b.timeout_s * scale:.0f} s", time.perf_counter() - t
    took = time.perf_counter() - t
    return ("ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"), took


def table(before: list[dict[str, Any]]) -> None:
    """Every entry of bench/results.json with its baselines and ratios."""
    old = {json.dumps(b, sort_keys=True) for b in before}
    print(f"\n{'benchmark':<44} {'value':>12}  unit")
    for b in sorted(_load(), key=lambda e: str(e.get("name"))):
        stale = "  (not refreshed by this run)" if json.dumps(b, sort_keys=True) in old else ""
        value = float(b.get("value") or 0.0)
        print(f"{b.get('name', '?'):<44} {fmt(value):>12}  {b.get('unit', '')}{stale}")
        for base, base_value in (b.get("baselines") or {}).items():
            if base_value is None:
                continue
            ratio = value / base_value if base_value else float("inf")
            print(f"    vs {base:<38} {fmt(float(base_value)):>12}  ratio {ratio:9.2f}x")


def main() -> int:
    """Run the selected benchmarks in sequence; print the summary and the table."""
    only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
    scale = float(os.environ.get("BENCH_TIMEOUT_SCALE", "1"))
    if not os.environ.get("CALLGUARD_BENCH_PG_URL"):
        print("note: CALLGUARD_BENCH_PG_URL is not set: the PostgreSQL variants are skipped", flush=True)
    before = _load()
    outcomes: list[tuple[str, str, float]] = []
    started = time.perf_counter()
    for b in BENCHES:
        if only and b.name not in only:
            continue
        outcome, took = run_one(b, scale)
        outcomes.append((b.name, outcome, took))
        print(f"=== {b.name}: {outcome} in {took:.0f} s", flush=True)
    print(f"\nran {len(outcomes)} benchmark(s) in {time.perf_counter() - started:.0f} s")
    for name, outcome, took in outcomes:
        print(f"  {name:<22} {outcome:<28} {took:6.0f} s")
    table(before)
    return 0 if all(o == "ok" for _, o, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
