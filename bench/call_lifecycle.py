"""call_lifecycle_cpu_ms: the service's CPU per call, from the request to the call ended (issue #15).

The composed service (SQLite file; PostgreSQL too with CALLGUARD_BENCH_PG_URL, a fresh database
``bench_lifecycle``) runs against the replay PBX (bench/replay_pbx.py: the events Asterisk 22 really sent for
an answered click-to-dial, per call, with the go-ahead gate). The replay PBX, 50 SSE clients on
``GET /v1/events`` (admin tokens: every call's events reach every client) and the ``POST /v1/calls`` load (a
team's supervisor dialling for its 50 agents in turn, numbers of no case)
all run in a separate load process (this script with ``--load``),
so their CPU is not the service's.

Measured: ``time.process_time()`` of the service process from just before the first request to the moment the
load process saw the last ``call.ended`` on its SSE stream, divided by the calls. Every call must end
``completed`` with talk seconds (else the bench fails). Baselines: the trivial-handler floor's CPU per request
in the same run (bench/originate_overhead.floor) and the 2 ms target. A second, profiled pass (cProfile, not
counted in the CPU figure) prints the top functions by cumulative time.

    /work/main/.venv/bin/python -m bench.call_lifecycle [--calls 200] [--rate 20] [--ring 0.1] [--talk 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench._common import print_table, record  # noqa: E402

SELF = str(Path(__file__).resolve())
TARGET_MS = 2.0
SSE_CLIENTS = int(os.environ.get("BENCH_LIFECYCLE_SSE_CLIENTS", "50"))  # the issue asks for 50
AGENTS = 50
END_TIMEOUT_S = 180.0


# ---- the load process -------------------------------------------------------------------------
async def _sse(session: aiohttp.ClientSession, url: str, token: str, ready: asyncio.Event,
               ended: dict[str, asyncio.Event] | None, counter: list[int]) -> None:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
        if r.status != 200:
            raise RuntimeError(f"SSE refused: {r.status} {await r.text()}")
        if ended is None:  # a stream only counted: its "data:" lines in the raw chunks, cheaply
            head = tail = b""
            async for chunk in r.content.iter_any():
                if not ready.is_set():
                    head += chunk
                    if b"event: hello" in head:
                        ready.set()
                buf = tail + chunk
                counter[0] += buf.count(b"\ndata:")
                tail = buf[-5:]  # shorter than b"\ndata:": no line counted twice
            return
        event = ""
        async for raw in r.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "hello":
                    ready.set()
            elif line.startswith("data:") and event:
                counter[0] += 1
                if ended is not None and event == "call.ended":
                    data = json.loads(line[5:])
                    cid = data.get("call_id") or (data.get("payload") or {}).get("call_id") or ""
                    ended.setdefault(cid, asyncio.Event()).set()


async def _load() -> None:
    from bench.replay_pbx import ReplayPbx

    lines = asyncio.StreamReader(limit=2**24)  # a run of 1,000 requests is one line
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)

    def say(obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    spec = json.loads(await lines.readline())
    async with ReplayPbx(ring_s=spec["ring_s"], talk_s=spec["talk_s"]) as pbx:
        say({"ami_port": pbx.port})
        spec = json.loads(await lines.readline())
        ended: dict[str, asyncio.Event] = {}
        counter = [0]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            readies = [asyncio.Event() for _ in range(SSE_CLIENTS)]
            streams = [asyncio.create_task(_sse(session, spec["events_url"], spec["admin_token"], readies[i],
                                                ended if i == 0 else None, counter))
                       for i in range(SSE_CLIENTS)]
            async with asyncio.timeout(30):
                await asyncio.gather(*(r.wait() for r in readies))
            say({"ready": True})
            while line := await lines.readline():
                say(await _run(session, spec["calls_url"], json.loads(line), ended, counter, streams, pbx))
            for s in streams:
                s.cancel()
            await asyncio.gather(*streams, return_exceptions=True)


async def _run(session: aiohttp.ClientSession, calls_url: str, run: dict[str, Any],
               ended: dict[str, asyncio.Event], counter: list[int], streams: list[asyncio.Task[None]],
               pbx: Any) -> dict[str, Any]:
    """One run of ``POST /v1/calls``: ``run["requests"]`` sent at ``run["offsets"]`` (seconds from the start;
    default one every 1 / ``run["rate"]``), then the calls accepted waited for to end.

    A request with a ``bid`` carries it as originate_overhead's ``X-Bench-Id`` header; its send and answer times
    (``time.perf_counter()``: CLOCK_MONOTONIC, the same clock as the service process's) are in ``sent`` and
    ``answered``. With ``answer_timeout_s``, requests not answered that long after the last was sent are
    cancelled and counted (``unanswered``); ``end_timeout_s`` bounds the wait for the calls to end."""
    from bench.originate_overhead import HEADER

    counter[0] = 0
    statuses: dict[str, int] = {}
    ids: list[str] = []
    sent: dict[str, float] = {}
    answered: dict[str, list[Any]] = {}

    async def one(req: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {req['token']}"}
        bid = req.get("bid")
        if bid is not None:
            headers[HEADER] = bid
            sent[bid] = time.perf_counter()
        try:
            async with session.post(calls_url, json=req["body"], headers=headers) as r:
                body = await r.json()
        except aiohttp.ClientError as exc:
            key = f"client:{type(exc).__name__}"
            statuses[key] = statuses.get(key, 0) + 1
            if bid is not None:
                answered[bid] = [key, time.perf_counter()]
            return
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        if bid is not None:
            answered[bid] = [r.status, time.perf_counter()]
        if r.status == 202:
            ids.append(body["id"])
        elif statuses[str(r.status)] <= 3:
            print(f"refused: {r.status} {body}", file=sys.stderr)

    requests = run["requests"]
    offsets = run.get("offsets") or [i / run["rate"] for i in range(len(requests))]
    posts = []
    lags = []
    t0 = time.perf_counter()
    for off, req in zip(offsets, requests, strict=True):
        await asyncio.sleep(max(0.0, t0 + off - time.perf_counter()))
        lags.append(time.perf_counter() - t0 - off)
        posts.append(asyncio.create_task(one(req)))
    t_sent = time.perf_counter()
    _done, pending = await asyncio.wait(posts, timeout=run.get("answer_timeout_s"))
    t_cut = time.perf_counter()
    for p in pending:
        p.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    missing: list[str] = []
    try:
        async with asyncio.timeout(run.get("end_timeout_s", END_TIMEOUT_S)):
            for cid in ids:
                await ended.setdefault(cid, asyncio.Event()).wait()
    except TimeoutError:
        missing = [cid for cid in ids if not ended.setdefault(cid, asyncio.Event()).is_set()]
    dead = [repr(s.exception()) for s in streams if s.done() and not s.cancelled() and s.exception()]
    lags.sort()
    return {"statuses": statuses, "dead_streams": dead, "ids": ids, "missing": missing,
            "sse_messages": counter[0],
            "seconds": round(time.perf_counter() - t0, 2),
            "t0": t0, "t_sent": t_sent, "t_cut": t_cut, "unanswered": len(pending),
            "send_lag_ms": {"p50": round(lags[len(lags) // 2] * 1000, 2) if lags else 0.0,
                            "p99": round(lags[int(len(lags) * 0.99)] * 1000, 2) if lags else 0.0},
            "sent": sent, "answered": answered,
            "replay": {"originated": pbx.stats.originated, "completed": pbx.stats.completed,
                       "no_go": pbx.stats.no_go, "go_unknown": pbx.stats.go_unknown[:5],
                       "go_wait_s": [round(w, 3) for w in pbx.stats.go_waits[::10]],
                       "actions": pbx.stats.actions}}


class Load:
    """The load process, spoken to by JSON lines."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, ring_s: float, talk_s: float) -> int:
        self.proc = await asyncio.create_subprocess_exec(sys.executable, SELF, "--load", stdin=subprocess.PIPE,
                                                         stdout=subprocess.PIPE, limit=2**24)
        await self.send({"ring_s": ring_s, "talk_s": talk_s})
        port: int = (await self.receive())["ami_port"]
        return port

    async def send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        await self.proc.stdin.drain()

    async def receive(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the load process ended ({await self.proc.wait()})")
        out: dict[str, Any] = json.loads(line)
        return out

    async def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            await self.proc.wait()


# ---- the service process ------------------------------------------------------------------------
def _requests(tokens: list[str], agents: list[str], n: int, base: int) -> list[dict[str, Any]]:
    return [{"token": tokens[0], "body": {"agent": agents[i % len(agents)],
                                                         "number": f"+86139{base + i:08d}"}} for i in range(n)]


async def _check(container: Any, ids: list[str]) -> dict[str, int]:
    """Every call ended completed with talk seconds; the count of each (state, end reason)."""
    from sqlalchemy import select

    from dialer.models import Call

    async with container.db.begin() as s:
        rows = (await s.execute(select(Call.id, Call.state, Call.end_reason, Call.talk_seconds)
                                .where(Call.id.in_(ids)))).all()
    seen: dict[str, int] = {}
    bad = []
    for cid, state, reason, talk in rows:
        seen[f"{state}/{reason}"] = seen.get(f"{state}/{reason}", 0) + 1
        if state != "ended" or reason != "completed" or not talk:
            bad.append((cid, state, reason, talk))
    if bad or len(rows) != len(ids):
        raise RuntimeError(f"replay diverged: {len(bad)} calls not ended completed with talk, "
                           f"{len(ids) - len(rows)} missing; e.g. {bad[:3]}; {seen}")
    return seen


@contextlib.asynccontextmanager
async def running(db_url: str, label: str, ring_s: float, talk_s: float, tmp: Path, agents_n: int = AGENTS,
                  shutdown_timeout: float = 60.0) -> AsyncIterator[tuple[Any, list[str], list[str], Load]]:
    """The composed service on ``db_url`` against the load process's replay PBX, with ``agents_n`` agents and a
    supervisor who dials for them, served over HTTP, the SSE clients connected: (container, the supervisor's
    token, the agents, the load process). Requests still being handled at the end get ``shutdown_timeout``
    seconds, then are cancelled."""
    from api.app import make_app
    from app.compose import compose
    from auth.models import Role
    from auth.service import create_user, issue_token
    from bench.originate_overhead import serve
    from config.settings import load_settings

    load = Load()
    port = await load.start(ring_s, talk_s)
    settings = load_settings(
        None,
        database={"url": db_url},
        pbx=[{"name": "local", "ami_host": "127.0.0.1", "ami_port": port, "ami_user": "bench",
              "ami_secret": "bench-secret-1", "agent_ring_timeout_s": 5}],
        recordings={"spool_dir": str(tmp / f"spool-{label}")},
        storage={"backend": "local", "local_root": str(tmp / f"store-{label}")},
        compliance={"default_profile": "DEMO"},
    )
    (tmp / f"spool-{label}").mkdir()
    agents = [f"agent{i:04d}" for i in range(agents_n)]
    try:
        async with compose(settings) as container:
            async with container.db.begin() as s:
                for i, agent in enumerate(agents):
                    await create_user(s, user_id=agent, role=Role.AGENT, sip_user=str(20000 + i), team="bench",
                                      clients=["bench"])
                await create_user(s, user_id="bench-admin", role=Role.ADMIN)
                admin = await issue_token(s, user_id="bench-admin")
                # a number of no case is dialled manually by a supervisor (agents may dial only case numbers)
                await create_user(s, user_id="bench-supervisor", role=Role.SUPERVISOR, team="bench", clients=["bench"])
                tokens = [await issue_token(s, user_id="bench-supervisor")]
            if not await container.pbx.client("local").wait_connected(15):
                raise RuntimeError("the service did not connect to the replay AMI")
            async with serve(make_app(container), shutdown_timeout=shutdown_timeout) as calls_url:
                await load.send({"calls_url": calls_url, "events_url": calls_url.replace("/v1/calls", "/v1/events"),
                                 "admin_token": admin})
                await load.receive()  # the SSE clients are connected
                yield container, tokens, agents, load
    finally:
        await load.stop()


async def service(db_url: str, label: str, calls: int, rate: float, ring_s: float, talk_s: float,
                  tmp: Path, base: int) -> dict[str, Any]:
    async with running(db_url, label, ring_s, talk_s, tmp) as (container, tokens, agents, load):
        # warm-up (not counted): a tenth of the calls
        warm = _requests(tokens, agents, max(AGENTS, calls // 10), base)
        await load.send({"requests": warm, "rate": rate})
        w = await load.receive()
        if w["missing"] or len(w["ids"]) != len(warm):
            raise RuntimeError(f"{label} warm-up: {len(w['missing'])} calls never ended, "
                               f"{len(warm) - len(w['ids'])} refused ({w['statuses']}; {w['replay']})")
        await _check(container, w["ids"])
        # measured
        cpu0 = time.process_time()
        await load.send({"requests": _requests(tokens, agents, calls, base + 10_000), "rate": rate})
        out = await load.receive()
        cpu = time.process_time() - cpu0
        if out["missing"] or len(out["ids"]) != calls:
            raise RuntimeError(f"{label}: {len(out['missing'])} calls never ended {out['dead_streams'][:2]}, "
                               f"{calls - len(out['ids'])} refused ({out['statuses']}; {out['replay']})")
        ends = await _check(container, out["ids"])
        # profiled (not counted): where the time goes
        prof = cProfile.Profile()
        prof.enable()
        await load.send({"requests": _requests(tokens, agents, max(AGENTS, calls // 2), base + 20_000),
                         "rate": rate})
        p = await load.receive()
        prof.disable()
        if p["missing"] or not p["ids"]:
            raise RuntimeError(f"{label} profiled pass: {p['statuses']}, {len(p['missing'])} never ended")
        await _check(container, p["ids"])
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(15)
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        profile = _summary(prof)
        print(f"--- {label}: cProfile, top 15 by cumulative time, then by own time ---\n{buf.getvalue()}",
              flush=True)
    return {"cpu_ms_per_call": cpu * 1000 / calls, "calls": calls, "seconds": out["seconds"], "ends": ends,
            "sse_messages_per_call": round(out["sse_messages"] / calls, 1), "replay": out["replay"],
            "statuses": out["statuses"], "profile_top15": profile}


def _summary(prof: cProfile.Profile) -> list[dict[str, Any]]:
    st = pstats.Stats(prof)
    rows = []
    stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({fn})", "calls": nc, "tottime_s": round(tt, 3),
                     "cumtime_s": round(ct, 3)})
    return sorted(rows, key=lambda r: -float(r["cumtime_s"]))[:15]


async def main(calls: int, rate: float, ring_s: float, talk_s: float) -> None:
    from bench import originate_overhead as oo

    floor_ms = await oo.floor_cpu_ms(4, 50)
    print(f"floor: {floor_ms:.3f} ms CPU per request", flush=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cg-bench-lifecycle-") as tmp_s:
        tmp = Path(tmp_s)
        results["sqlite"] = await service(f"sqlite+aiosqlite:///{tmp / 'svc.db'}", "sqlite", calls, rate, ring_s,
                                          talk_s, tmp, 10_000)
        print(f"sqlite: {results['sqlite']['cpu_ms_per_call']:.3f} ms/call", flush=True)
        admin = os.environ.get("CALLGUARD_BENCH_PG_URL")
        if admin:
            url = await oo.fresh_pg_database(admin, "bench_lifecycle")
            results["postgresql"] = await service(url, "postgresql", calls, rate, ring_s, talk_s, tmp, 50_000)
            print(f"postgresql: {results['postgresql']['cpu_ms_per_call']:.3f} ms/call", flush=True)
        else:
            print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
    names = []
    for db, r in results.items():
        name = "call_lifecycle_cpu_ms" + ("" if db == "sqlite" else f"_{db}")
        record(name, "ms", round(r["cpu_ms_per_call"], 3),
               {"target": TARGET_MS, "trivial_handler_floor": round(floor_ms, 3),
                "10x_floor": round(10 * floor_ms, 3)},
               {"db": db, "calls": r["calls"], "rate_per_s": rate, "ring_s": ring_s, "talk_s": talk_s,
                "sse_clients": SSE_CLIENTS, "seconds": r["seconds"], "ends": r["ends"],
                "sse_messages_per_call": r["sse_messages_per_call"], "replay": r["replay"],
                "profile_top15_cumulative": r["profile_top15"]})
        names.append(name)
    print_table(names)


if __name__ == "__main__":
    if "--load" in sys.argv:
        asyncio.run(_load())
    else:
        ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        ap.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_LIFECYCLE_CALLS", "200")))
        ap.add_argument("--rate", type=float, default=20.0)
        ap.add_argument("--ring", type=float, default=0.1)
        ap.add_argument("--talk", type=float, default=1.0)
        a = ap.parse_args()
        asyncio.run(main(a.calls, a.rate, a.ring, a.talk))
