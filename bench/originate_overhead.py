"""originate_overhead_ms_p99 / _p50: from the HTTP request arriving to the Originate bytes written.

The composed service (SQLite file, DEMO profile, compliance gate, recordings and hooks wired as in
production) runs against a sandbox Asterisk (PbxSandbox; the 50 agents exist on the PBX but no phone
registers, so nothing rings). A separate load process (this script with ``--load``) sends rounds of 50
concurrent ``POST /v1/calls``, each to a different customer number, so no frequency cap blocks.

Timestamps, both ``time.perf_counter()`` in the server process:
- arrival: a first aiohttp middleware added by this bench, keyed by the ``X-Bench-Id`` request header;
- written: ``asyncio.StreamWriter.write`` is wrapped in this process; the Originate bytes carry
  ``ChannelId: <call id>``, and the response body gives the call id of each bench id.

Also measured: the same dials sent one at a time (the overhead a dial sees when it does not queue behind
49 others: ``_one_at_a_time`` entries), and the service process's CPU time per dial, from which the
queueing floor of n simultaneous dials on one event loop follows (``queueing_floor_p99_ms`` = 0.99 n x CPU
per dial).

Floor in the same run: the same middleware, the same load process, 50 concurrent requests to a
trivial aiohttp handler that parses the JSON body, encodes the same Originate and writes it to a
socket (no auth, no database, no gate). With CALLGUARD_BENCH_PG_URL set, the service is also measured
on PostgreSQL (a fresh database ``bench_originate``).

    /work/main/.venv/bin/python bench/originate_overhead.py [--rounds 5] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench._common import print_table, record  # noqa: E402
from dialer.ami.parser import encode_action  # noqa: E402

SELF = str(Path(__file__).resolve())
HEADER = "X-Bench-Id"
TARGET_P99_MS = 10.0
SETTLE_S = 1.0
_CHANNEL_ID = re.compile(rb"\r\nChannelId: ([0-9A-Za-z-]+)\r\n")

arrivals: dict[str, float] = {}
writes: dict[str, float] = {}
# phase marks (bench id -> phase -> perf_counter), set by wrappers through the request's context
marks: dict[str, dict[str, float]] = {}
_bench_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_id", default=None)
PHASES = ("arrival", "handler", "gate_start", "gate_end", "originate", "written")
_original_write = asyncio.StreamWriter.write


def _timed_write(self: asyncio.StreamWriter, data: Any) -> None:
    """StreamWriter.write, noting when the bytes of an Originate were handed to the transport."""
    t = time.perf_counter()
    if isinstance(data, bytes | bytearray) and data.startswith(b"Action: Originate\r\n"):
        m = _CHANNEL_ID.search(data)
        if m:
            writes[m.group(1).decode()] = t
            _mark("written")
    _original_write(self, data)


@web.middleware
async def arrival_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The first middleware: note when a bench request reached the application."""
    bid = request.headers.get(HEADER)
    if bid is not None:
        arrivals[bid] = time.perf_counter()
        _bench_id.set(bid)
    return await handler(request)


def _mark(phase: str) -> None:
    bid = _bench_id.get()
    if bid is not None:
        marks.setdefault(bid, {})[phase] = time.perf_counter()


def instrument() -> None:
    """Wrap the service's steps to note, per bench request, when each phase began (for the breakdown)."""
    from compliance.service import ComplianceGate
    from dialer.pbx import PbxGateway
    from dialer.service import CallService

    def around(cls: Any, attr: str, before: str, after: str | None = None) -> None:
        original = getattr(cls, attr)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            _mark(before)
            try:
                return await original(*args, **kwargs)
            finally:
                if after:
                    _mark(after)

        setattr(cls, attr, wrapper)

    around(CallService, "request_call", "handler")
    around(ComplianceGate, "check", "gate_start", "gate_end")
    around(PbxGateway, "originate", "originate")


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q * len(s) + 0.5) - 1))
    return s[k]


# ---- the load process -------------------------------------------------------------------------
async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    """Send each round's requests all at once; answer bench id -> (status, call id)."""
    out: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(req: dict[str, Any]) -> None:
            headers = {HEADER: req["bid"], **({"Authorization": f"Bearer {req['token']}"} if req["token"] else {})}
            async with session.post(spec["url"], json=req["body"], headers=headers) as r:
                body = await r.json()
                out[req["bid"]] = {"status": r.status, "call_id": body.get("id"), "body": body if r.status >= 400
                                   else None}

        for round_ in spec["rounds"]:
            await asyncio.gather(*(one(req) for req in round_))
            await asyncio.sleep(spec["pause_s"])
    return out


def load_main() -> None:
    """``--load``: read the spec (JSON) on stdin, print the answers (JSON) on stdout."""
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_load(spec))))


async def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load process (another core) and return its answers."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SELF, "--load",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = await proc.communicate(json.dumps(spec).encode())
    if proc.returncode != 0:
        raise RuntimeError(f"load process failed with {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


# ---- measuring ----------------------------------------------------------------------------------
def _rounds(label: str, rounds: int, n: int, number_base: int, tokens: list[str],
            agents: list[str]) -> list[list[dict[str, Any]]]:
    """``rounds`` x ``n`` requests: agent i dials as itself, every request a different number."""
    out = []
    for r in range(rounds):
        out.append([{"bid": f"{label}-{r}-{i}", "token": tokens[i] if tokens else "",
                     "body": {"agent": agents[i], "number": f"+86139{number_base + r * n + i:08d}"}}
                    for i in range(n)])
    return out


async def measure(url: str, label: str, rounds: int, n: int, number_base: int, tokens: list[str],
                  agents: list[str], *, pause_s: float = SETTLE_S) -> dict[str, Any]:
    """One warm-up round, then ``rounds`` rounds of ``n`` concurrent requests; overheads in ms.

    Also the CPU time this (the service's) process spent per dial over the whole load (process_time, which
    includes the pauses' idle background work, so an upper bound).
    """
    warm = _rounds(f"{label}-warm", 1, n, number_base, tokens, agents)
    measured = _rounds(label, rounds, n, number_base + n, tokens, agents)
    cpu0 = time.process_time()
    answers = await run_load({"url": url, "rounds": warm + measured, "pause_s": pause_s})
    cpu_ms_per_dial = (time.process_time() - cpu0) * 1000 / ((rounds + 1) * n)
    samples: list[float] = []
    steps: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for round_ in measured:
        for req in round_:
            a = answers[req["bid"]]
            if a["status"] != 202:
                key = f"{a['status']}:{(a['body'] or {}).get('error', {}).get('code')}"
                errors[key] = errors.get(key, 0) + 1
                continue
            written = writes.get(a["call_id"])
            if written is None:
                errors["no-originate-written"] = errors.get("no-originate-written", 0) + 1
                continue
            samples.append((written - arrivals[req["bid"]]) * 1000)
            m = {"arrival": arrivals[req["bid"]], **marks.get(req["bid"], {}), "written": written}
            seen = [p for p in PHASES if p in m]
            for a, b in zip(seen, seen[1:], strict=False):
                steps.setdefault(f"{a}->{b}", []).append((m[b] - m[a]) * 1000)
    if not samples:
        raise RuntimeError(f"{label}: no successful request ({errors})")
    return {"p50": pct(samples, 0.50), "p99": pct(samples, 0.99), "max": max(samples),
            "mean": statistics.fmean(samples), "n": len(samples), "errors": errors,
            "cpu_ms_per_dial": round(cpu_ms_per_dial, 3),
            "steps_ms": {k: {"p50": round(pct(v, 0.5), 3), "p99": round(pct(v, 0.99), 3)} for k, v in steps.items()}}


@asynccontextmanager
async def serve(app: web.Application, *, shutdown_timeout: float = 60.0) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port (the bench middleware first); yield the URL of /v1/calls. On the
    way out, requests still being handled get ``shutdown_timeout`` seconds, then are cancelled."""
    app.middlewares.insert(0, arrival_middleware)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1/calls"
    finally:
        await runner.cleanup()


async def floor(rounds: int, n: int) -> dict[str, Any]:
    """The trivial handler: parse the body, encode the same Originate, write it to a socket."""

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ids = iter(range(1, 10**9))

    async def handler(request: web.Request) -> web.StreamResponse:
        req = await request.json()
        call_id = str(uuid.uuid4())
        data = encode_action("Originate", [
            ("Channel", f"PJSIP/{req['agent']}"), ("Context", "callguard-outbound"), ("Exten", req["number"]),
            ("Priority", "1"), ("Async", "true"), ("Timeout", "30000"), ("ChannelId", call_id),
            ("CallerID", f'"Callguard" <{req["number"]}>'), ("Variable", f"__CALL_ID={call_id}")],
            f"floor-{next(ids)}")
        writer.write(data)
        await writer.drain()
        return web.json_response({"id": call_id}, status=202)

    app = web.Application()
    app.router.add_post("/v1/calls", handler)
    try:
        async with serve(app) as url:
            return await measure(url, "floor", rounds, n, 0, [], [f"a{i}" for i in range(n)])
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


@contextmanager
def timed_writes() -> Iterator[None]:
    """Within: every Originate written by this process is timed (``writes`` by call id, and the ``written``
    mark of the bench request it was written for)."""
    asyncio.StreamWriter.write = _timed_write  # type: ignore[method-assign]
    try:
        yield
    finally:
        asyncio.StreamWriter.write = _original_write  # type: ignore[method-assign]


async def floor_cpu_ms(rounds: int = 4, n: int = 50) -> float:
    """The trivial handler's CPU per request (ms), its Originate writes timed as ``floor`` needs."""
    with timed_writes():
        fl = await floor(rounds, n)
    return float(fl["cpu_ms_per_dial"])


async def service(pbx: Any, db_url: str, label: str, rounds: int, n: int, number_base: int,
                  tmp: Path) -> dict[str, Any]:
    """The composed service on ``db_url`` against the sandbox PBX."""
    from api.app import make_app
    from app.compose import compose
    from auth.models import Role
    from auth.service import create_user, issue_token
    from config.settings import load_settings

    settings = load_settings(
        None,
        database={"url": db_url},
        pbx=[{"name": "local", "ami_host": pbx.ami_host, "ami_port": pbx.ami_port, "ami_user": pbx.ami_user,
              "ami_secret": pbx.ami_secret, "agent_ring_timeout_s": 5}],
        recordings={"spool_dir": str(pbx.spool_dir)},
        storage={"backend": "local", "local_root": str(tmp / f"store-{label}")},
        compliance={"default_profile": "DEMO"},
    )
    agents = [f"agent{i:02d}" for i in range(n)]
    async with compose(settings) as container:
        tokens = []
        async with container.db.begin() as s:
            for i, agent in enumerate(agents):
                await create_user(s, user_id=agent, role=Role.AGENT, sip_user=str(2000 + i), team="bench")
                tokens.append(await issue_token(s, user_id=agent))
        if not await container.pbx.client("local").wait_connected(15):
            raise RuntimeError("the service did not connect to the sandbox AMI")
        async with serve(make_app(container)) as url:
            result = await measure(url, label, rounds, n, number_base, tokens, agents)
            await asyncio.sleep(SETTLE_S)  # let the PBX events of the last round land before teardown
            # the same dials one at a time: what a dial costs when it does not queue behind 49 others
            single = await measure(url, f"{label}-single", rounds * n, 1, number_base + 5_000, tokens[:1],
                                   agents[:1], pause_s=0.05)
            result["single"] = {k: single[k] for k in ("p50", "p99", "n", "errors", "cpu_ms_per_dial")}
            await asyncio.sleep(SETTLE_S)
    return result


async def fresh_pg_database(admin_url: str, name: str) -> str:
    """Drop and create database ``name`` next to ``admin_url``'s; its URL."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def main(rounds: int, n: int) -> None:
    """Floor, SQLite and (when configured) PostgreSQL, all against one sandbox PBX."""
    from sandbox.pbx import AgentAccount, PbxSandbox
    from sip.ports import free_port, free_tcp_udp_port

    asyncio.StreamWriter.write = _timed_write  # type: ignore[method-assign]
    instrument()
    results: dict[str, dict[str, Any]] = {"floor": await floor(rounds, n)}
    print(f"floor: {results['floor']}", flush=True)
    pbx = PbxSandbox(ami_port=free_port(), sip_port=free_port(socket.SOCK_DGRAM),
                     customer_trunk_port=free_tcp_udp_port(),
                     agents=[AgentAccount(str(2000 + i), "bench-secret-1") for i in range(n)])
    admin = os.environ.get("CALLGUARD_BENCH_PG_URL")
    with tempfile.TemporaryDirectory(prefix="cg-bench-originate-") as tmp_s:
        tmp = Path(tmp_s)
        async with pbx:
            results["sqlite"] = await service(pbx, f"sqlite+aiosqlite:///{tmp / 'svc.db'}", "sqlite", rounds, n,
                                              10_000, tmp)
            print(f"sqlite: {results['sqlite']}", flush=True)
            if admin:
                url = await fresh_pg_database(admin, "bench_originate")
                results["postgresql"] = await service(pbx, url, "postgresql", rounds, n, 20_000, tmp)
                print(f"postgresql: {results['postgresql']}", flush=True)
            else:
                print("PostgreSQL skipped: set CALLGUARD_BENCH_PG_URL (make bench does)")
    f = results["floor"]
    names = []
    for db, r in results.items():
        if db == "floor":
            continue
        suffix = "" if db == "sqlite" else f"_{db}"
        single = r["single"]
        extra = {"db": db, "concurrency": n, "rounds": rounds, "samples": r["n"], "errors": r["errors"],
                 "max_ms": round(r["max"], 2), "mean_ms": round(r["mean"], 2), "profile": "DEMO",
                 "floor_max_ms": round(f["max"], 2), "steps_ms": r["steps_ms"],
                 "service_cpu_ms_per_dial": r["cpu_ms_per_dial"],
                 # n dials arriving together on one event loop: the last waits for the others' CPU at least
                 "queueing_floor_p99_ms": round(r["cpu_ms_per_dial"] * n * 0.99, 1),
                 "one_at_a_time": {"p50_ms": round(single["p50"], 3), "p99_ms": round(single["p99"], 3),
                                   "samples": single["n"], "errors": single["errors"]}}
        for q in ("p99", "p50"):
            base = {"trivial_handler_floor": round(f[q], 3)}
            if q == "p99":
                base["target"] = TARGET_P99_MS
            if db != "sqlite" and "sqlite" in results:
                base["sqlite"] = round(results["sqlite"][q], 3)
            name = f"originate_overhead_ms_{q}{suffix}"
            record(name, "ms", round(r[q], 3), base, extra)
            names.append(name)
            name = f"originate_overhead_ms_{q}_one_at_a_time{suffix}"
            record(name, "ms", round(single[q], 3), {"trivial_handler_floor": round(f[q], 3),
                                                     **({"target": TARGET_P99_MS} if q == "p99" else {})},
                   {"db": db, "samples": single["n"], "errors": single["errors"],
                    "service_cpu_ms_per_dial": single["cpu_ms_per_dial"]})
            names.append(name)
    print_table(names)


if __name__ == "__main__":
    if "--load" in sys.argv:
        load_main()
    else:
        p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ORIGINATE_ROUNDS", "5")))
        p.add_argument("--concurrency", type=int, default=50)
        args = p.parse_args()
        asyncio.run(main(args.rounds, args.concurrency))
