"""call_lifecycle_floor_ms: the least CPU any call can cost in this design and stack, the floor under
``call_lifecycle_cpu_ms`` and its 2 ms target (issue #15).

What a call must do at the least, with the counts bench/call_lifecycle.py measured for a real answered call:
- **the live stream**: each of the call's ``--events`` domain events reaches each of ``--clients`` SSE clients.
  Floor: the events of each of the call's ``--commits`` commits written to every client's socket in one
  ``transport.write`` (asyncio, no HTTP framework; the readers are another process, so their CPU is not counted);
- **the shared state**: each commit is durable before the next event is applied (another instance may apply
  the next one). Floor: ``--commits`` transactions through the service's own driver stack (``db.engine.Database``:
  SQLAlchemy Core, aiosqlite or asyncpg), each one ``UPDATE`` of the call row and one ``INSERT`` per event,
  no ORM, no gate, no outbox, no listener;
- **the request**: one HTTP request, the trivial-handler floor of bench/originate_overhead.py.

The figure is the sum of the parts' ``time.process_time()`` per call. If it exceeds the target, the target cannot be
met by any code on this stack, whatever the service does above it.

    /work/main/.venv/bin/python -m bench.lifecycle_floor [--calls 500] [--clients 50] [--events 10] [--commits 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench._common import print_table, record  # noqa: E402
from bench.originate_overhead import floor_cpu_ms  # noqa: E402
from config.settings import DatabaseSettings  # noqa: E402
from db.engine import Database  # noqa: E402

NAME = "call_lifecycle_floor_ms"
TARGET_MS = 2.0
#: a domain event as the live stream sends it (a real ``call.answered`` message, about 420 bytes)
EVENT = {"seq": 123456, "type": "call.answered", "event_id": "5d52577b-63a2-4f6b-9e3f-0918d783f63a",
         "occurred_at": "2026-12-06T06:28:10.762039+00:00", "call_id": "cf95c4d5-0f10-4202-b3f0-33d9d57a0bd6",
         "case_id": "0f02e88a-0776-4471-a646-4061350d636f", "agent_id": "ana", "client_id": "e2e-bank",
         "data": {"state": "answered", "end_reason": None, "hangup_cause": None, "ring_seconds": 4.2,
                  "talk_seconds": None, "batch_id": None}}
READER = """
import socket, sys
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
import selectors
sel = selectors.DefaultSelector()
for c in conns:
    sel.register(c, selectors.EVENT_READ)
open_ = len(conns)
while open_:
    for key, _ in sel.select():
        if not key.fileobj.recv(1 << 16):
            sel.unregister(key.fileobj)
            open_ -= 1
"""


def _frame(seq: int) -> bytes:
    data = {**EVENT, "seq": seq}
    body = json.dumps(data, ensure_ascii=False)
    return f"id: {seq}\r\nevent: {data['type']}\r\ndata: {body}\r\n\r\n".encode()


async def fan_out_ms(calls: int, clients: int, events: int, commits: int) -> float:
    """CPU per call of writing each commit's events to every client's socket in one write."""
    writers: list[asyncio.StreamWriter] = []
    all_in = asyncio.Event()

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        writers.append(w)
        if len(writers) == clients:
            all_in.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader = await asyncio.create_subprocess_exec(sys.executable, "-c", READER, str(port), str(clients),
                                                  stdout=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.wait_for(all_in.wait(), 30)
        per_commit = [events // commits + (1 if i < events % commits else 0) for i in range(commits)]
        seq = 0
        start = time.process_time()
        for _ in range(calls):
            for n in per_commit:
                frames = b"".join(_frame(seq + i) for i in range(n))  # encoded once, for every client
                seq += n
                for w in writers:
                    w.write(frames)
                await asyncio.sleep(0)  # the loop runs between commits, as it does between AMI events
            for w in writers:
                await w.drain()
        spent = time.process_time() - start
    finally:
        for w in writers:
            w.close()
            await w.wait_closed()
        server.close()
        await server.wait_closed()
        await asyncio.wait_for(reader.wait(), 30)
    return spent * 1000 / calls


async def commits_ms(url: str, calls: int, events: int, commits: int) -> float:
    """CPU per call of its commits through the service's driver stack: one UPDATE and one INSERT per event."""
    per_commit = [events // commits + (1 if i < events % commits else 0) for i in range(commits)]
    payload = json.dumps(EVENT["data"])
    async with Database(DatabaseSettings(url=url)) as db:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS floor_events"))
            await conn.execute(text("DROP TABLE IF EXISTS floor_calls"))
            await conn.execute(text("CREATE TABLE floor_calls (id VARCHAR(36) PRIMARY KEY, state VARCHAR(16), "
                                    "facts TEXT)"))
            await conn.execute(text("CREATE TABLE floor_events (id INTEGER PRIMARY KEY, call_id VARCHAR(36), "
                                    "type VARCHAR(64), payload TEXT)" if db.is_sqlite else
                                    "CREATE TABLE floor_events (id BIGSERIAL PRIMARY KEY, call_id VARCHAR(36), "
                                    "type VARCHAR(64), payload TEXT)"))
        update = text("UPDATE floor_calls SET state = :state, facts = :facts WHERE id = :id")
        insert = text("INSERT INTO floor_events (call_id, type, payload) VALUES (:id, :type, :payload)")
        start = time.process_time()
        for i in range(calls):
            call_id = f"{i:036d}"
            async with db.begin() as s:
                await s.execute(text("INSERT INTO floor_calls (id, state, facts) VALUES (:id, 'requested', '{}')"),
                                {"id": call_id})
            for n in per_commit[1:]:
                async with db.begin() as s:
                    await s.execute(update, {"id": call_id, "state": "answered", "facts": payload})
                    for _ in range(n):
                        await s.execute(insert, {"id": call_id, "type": "call.answered", "payload": payload})
        spent = time.process_time() - start
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE floor_events"))
            await conn.execute(text("DROP TABLE floor_calls"))
    return spent * 1000 / calls


async def main_async(args: argparse.Namespace) -> None:
    fan = await fan_out_ms(args.calls, args.clients, args.events, args.commits)
    request = await floor_cpu_ms(4, 50)  # the trivial handler's CPU per request (ms)
    dbs: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dbs["sqlite"] = f"sqlite+aiosqlite:///{Path(tmp) / 'floor.db'}"
        pg = os.environ.get("CALLGUARD_BENCH_PG_URL")
        if pg:
            dbs["postgresql"] = pg
        for db, url in dbs.items():
            stored = await commits_ms(url, args.calls, args.events, args.commits)
            total = fan + stored + request
            name = NAME if db == "sqlite" else f"{NAME}_{db}"
            extra: dict[str, Any] = {"db": db, "calls": args.calls, "sse_clients": args.clients,
                                     "events_per_call": args.events, "commits_per_call": args.commits,
                                     "sse_fan_out_ms": round(fan, 3), "commits_ms": round(stored, 3),
                                     "request_ms": round(request, 3), "cpus": os.cpu_count(),
                                     "loadavg_before": round(os.getloadavg()[0], 2)}
            record(name, "ms", round(total, 3), {"target": TARGET_MS}, extra)
            print(f"{db}: floor {total:.2f} ms per call = SSE fan-out {fan:.2f} + commits {stored:.2f} "
                  f"+ request {request:.2f} (target {TARGET_MS} ms)")
    print_table([NAME, f"{NAME}_postgresql"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--events", type=int, default=10, help="domain events per call (bench/call_lifecycle.py: "
                   "sse_messages_per_call / sse_clients)")
    p.add_argument("--commits", type=int, default=6, help="transactions per call that carry its events")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()
