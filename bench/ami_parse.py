"""AMI parser throughput: ours vs asterisk-ami 0.1.7, panoramisk 1.4 and the raw split limit.

200,000 synthetic Asterisk 22 style events (~20 lines, ~470 bytes, CRLF, 30 % non-ASCII caller
names), fed in 64 KiB chunks; best of 3 rounds, each round running every parser once (interleaved, so a
shared machine's load falls on all of them alike), timed in process CPU time (wall time is printed
and recorded too). Also counts fields each parser got wrong.
Run: python bench/ami_parse.py
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import print_table, record  # noqa: E402
from dialer.ami.parser import AmiParser  # noqa: E402

N_EVENTS = 200_000
CHUNK = 64 * 1024
RUNS = 3

_NAMES_ASCII = ["John Smith", "Maria Garcia", "Anna Kowalska", "Peter Jones", "Lee Wong"]
_NAMES_INTL = ["张伟", "王芳", "李娜 (客户)", "Zoë Ångström", "Ярослава Петренко", "Łukasz Żółć", "山田太郎"]


def _channel_fields(rnd: random.Random, i: int, name: str, call_id: str) -> list[tuple[str, str]]:
    uid = f"1732890{i:06d}.{i % 997}"
    num = f"+4477009{rnd.randrange(10**5):05d}"
    return [
        ("Privilege", "call,all"),
        ("SystemName", "pbx-1"),
        ("Channel", f"PJSIP/agent{i % 50:03d}-{i:08x}"),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", num),
        ("CallerIDName", name),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "callguard-outbound"),
        ("Exten", num),
        ("Priority", "1"),
        ("Uniqueid", uid),
        ("Linkedid", call_id),
        ("ChanVariable", f"CALL_ID={call_id}"),
    ]


def generate(n: int = N_EVENTS, seed: int = 7) -> tuple[bytes, list[list[tuple[str, str]]]]:
    """Return the byte stream (with banner) and the ground-truth field lists."""
    rnd = random.Random(seed)
    truth: list[list[tuple[str, str]]] = []
    out: list[str] = ["Asterisk Call Manager/9.0.0\r\n"]
    kinds = ["Newchannel", "VarSet", "Newexten", "DialBegin", "DialEnd", "Hangup", "Cdr"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        name = rnd.choice(_NAMES_INTL) if rnd.random() < 0.3 else rnd.choice(_NAMES_ASCII)
        call_id = f"{rnd.getrandbits(128):032x}"
        call_id = f"{call_id[:8]}-{call_id[8:12]}-4{call_id[13:16]}-a{call_id[17:20]}-{call_id[20:32]}"
        f: list[tuple[str, str]] = [("Event", kind)]
        base = _channel_fields(rnd, i, name, call_id)
        if kind == "Newchannel":
            f += base
        elif kind == "VarSet":
            f += base[:-3] + [("Variable", "MIXMONITOR_FILENAME"), ("Value", f"/var/spool/rec/{call_id}.wav")]
        elif kind == "Newexten":
            f += base[:-2] + [("Extension", "s"), ("Application", "Dial"),
                              ("AppData", "PJSIP/${EXTEN}@customers,45,tTg")]
        elif kind == "DialBegin":
            f += base[:-4] + [("DestChannel", f"PJSIP/customers-{i:08x}"), ("DialString", "customers/x")]
        elif kind == "DialEnd":
            f += base[:-4] + [("DestChannel", f"PJSIP/customers-{i:08x}"), ("DialStatus", "ANSWER")]
        elif kind == "Hangup":
            f += base + [("Cause", "16"), ("Cause-txt", "Normal Clearing")]
        else:
            f += [("Privilege", "cdr,all"), ("AccountCode", ""), ("Source", "agent007"),
                  ("Destination", "+447700900123"), ("DestinationContext", "callguard-outbound"),
                  ("CallerID", f'"{name}" <+447700900123>'), ("Channel", f"PJSIP/agent-{i:08x}"),
                  ("DestinationChannel", f"PJSIP/customers-{i:08x}"), ("LastApplication", "Dial"),
                  ("LastData", "PJSIP/+447700900123@customers,45,tTg"),
                  ("StartTime", "2026-11-29 16:00:00"), ("AnswerTime", "2026-11-29 16:00:07"),
                  ("EndTime", "2026-11-29 16:03:12"), ("Duration", "192"), ("BillableSeconds", "185"),
                  ("Disposition", "ANSWERED"), ("AMAFlags", "DOCUMENTATION"),
                  ("UniqueID", f"1732890{i:06d}.1"), ("UserField", "")]
        truth.append(f)
        out.append("".join(f"{k}: {v}\r\n" for k, v in f) + "\r\n")
    return "".join(out).encode("utf-8"), truth


def chunks(stream: bytes) -> list[bytes]:
    """Split the stream into 64 KiB reads (cuts land anywhere, incl. inside UTF-8 characters)."""
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


# --- drivers: sink(event) is called per parsed event; timed runs discard, the check run keeps -----


def run_ours(parts: list[bytes], sink: Callable[[Any], Any]) -> None:
    """Our parser, touching what the dialer's translator reads: name, two fields, CALL_ID."""
    parser = AmiParser()
    for c in parts:
        for m in parser.feed(c):
            m.name, m.get("Uniqueid"), m.get("Linkedid"), m.get("ChanVariable(CALL_ID)")  # noqa: B018
            sink(m)


def run_ours_full(parts: list[bytes], sink: Callable[[Any], Any]) -> None:
    """Our parser with every field materialised (as_dict), the same work the others do eagerly."""
    parser = AmiParser()
    for c in parts:
        for m in parser.feed(c):
            m.as_dict()
            sink(m)


def run_split_limit(parts: list[bytes], sink: Callable[[Any], Any]) -> None:
    """Only split the stream at CRLFCRLF: the upper bound for any Python parser."""
    buf = b""
    for c in parts:
        blocks = (buf + c).split(b"\r\n\r\n")
        buf = blocks.pop()
        for b in blocks:
            sink(b)


class _FakeSocket:
    def __init__(self, parts: list[bytes]) -> None:
        self._it: Iterator[bytes] = iter(parts)

    def recv(self, _n: int) -> bytes:
        return next(self._it, b"")

    def close(self) -> None:
        pass


def run_asterisk_ami(parts: list[bytes], sink: Callable[[Any], Any]) -> None:
    """asterisk-ami 0.1.7: its own pack generator over a fake socket, then Event.read per pack."""
    import threading

    from asterisk.ami import AMIClient
    from asterisk.ami.event import Event

    client = AMIClient()
    client._socket = _FakeSocket(parts)
    client.finished = threading.Event()
    gen = client._next_pack()
    next(gen)  # banner line
    for pack in gen:
        if Event.match(pack):
            sink(Event.read(pack))


def run_panoramisk(parts: list[bytes], sink: Callable[[Any], Any]) -> None:
    """panoramisk 1.4: AMIProtocol.data_received with a dummy transport/factory (utf-8 configured)."""
    from panoramisk.ami_protocol import AMIProtocol

    class _Factory:
        save_stream = None

        def dispatch(self, message: Any) -> None:
            sink(message)

    proto = AMIProtocol()
    proto.connection_made(object())
    proto.factory = _Factory()
    proto.encoding = "utf8"
    proto.log.disabled = True
    for c in parts:
        proto.data_received(c)


def count_wrong(truth: list[list[tuple[str, str]]], got: list[Any], getter: Callable[[Any, str], Any]) -> int:
    """Ground-truth fields not reproduced exactly (a missing event counts all its fields)."""
    wrong = 0
    for i, fields in enumerate(truth):
        if i >= len(got):
            wrong += len(fields)
            continue
        ev = got[i]
        for k, v in fields:
            if getter(ev, k) != v:
                wrong += 1
    return wrong


def _get_ours(m: Any, k: str) -> Any:
    return m.get(k)


def _get_asterisk_ami(e: Any, k: str) -> Any:
    if k == "Event":
        return e.name
    v = e.keys.get(k)
    if isinstance(v, dict):  # it parses ChanVariable headers into {name: value}
        return ",".join(f"{n}={x}" for n, x in v.items())
    return v


def _get_panoramisk(m: Any, k: str) -> Any:
    return m.get(k)


Driver = Callable[[list[bytes], Callable[[Any], Any]], None]


def best_interleaved(drivers: dict[str, Driver], parts: list[bytes], n: int) -> dict[str, tuple[float, float]]:
    """Best (CPU-time, wall-time) events/s per driver over RUNS rounds; each round runs every driver once.

    Interleaving spreads the load of a shared machine over all parsers alike; CPU time
    (`time.process_time`) leaves out the time this process was not scheduled at all.
    """
    best = {label: (0.0, 0.0) for label in drivers}
    for _ in range(RUNS):
        for label, fn in drivers.items():
            count = [0]

            def sink(_ev: Any, count: list[int] = count) -> None:
                count[0] += 1

            c0, w0 = time.process_time(), time.perf_counter()
            fn(parts, sink)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if count[0] != n:
                raise SystemExit(f"{label} produced {count[0]} events, expected {n}")
            best[label] = (max(best[label][0], n / cpu), max(best[label][1], n / wall))
    return best


def main() -> None:
    """Run every parser, print and record events/s and fields wrong."""
    stream, truth = generate()
    parts = chunks(stream)
    n = len(truth)
    print(f"{n:,} events, {len(stream) / n:.0f} bytes/event, "
          f"{sum(len(f) for f in truth) / n:.1f} lines/event, {len(parts)} chunks of 64 KiB")
    drivers: dict[str, Driver] = {
        "ours": run_ours,
        "ours_all_fields": run_ours_full,
        "split_limit": run_split_limit,
        "asterisk_ami_0_1_7": run_asterisk_ami,
        "panoramisk_1_4": run_panoramisk,
    }
    getters: dict[str, Callable[[Any, str], Any] | None] = {
        "ours": _get_ours,
        "ours_all_fields": _get_ours,
        "split_limit": None,
        "asterisk_ami_0_1_7": _get_asterisk_ami,
        "panoramisk_1_4": _get_panoramisk,
    }
    rates = best_interleaved(drivers, parts, n)
    results = {label: cpu for label, (cpu, _wall) in rates.items()}
    wall = {label: round(w) for label, (_cpu, w) in rates.items()}
    wrong: dict[str, int | None] = {}
    for label, fn in drivers.items():
        getter = getters[label]
        if getter is not None:
            kept: list[Any] = []
            fn(parts, kept.append)
            wrong[label] = count_wrong(truth, kept, getter)
            del kept
        else:
            wrong[label] = None
        print(f"  {label:<22} {results[label]:>12,.0f} ev/s CPU  {wall[label]:>12,} ev/s wall  "
              f"fields wrong={wrong[label]}")
    record(
        "ami_parse_events_per_s",
        "events/s",
        round(results["ours"]),
        {k: round(v) for k, v in results.items() if k not in ("ours", "ours_all_fields")},
        extra={"events": n, "chunk_bytes": CHUNK, "fields_wrong": wrong, "runs": RUNS,
               "clock": "process_time, best of RUNS interleaved rounds", "wall_events_per_s": wall,
               "access": "name + Uniqueid + Linkedid + ChanVariable(CALL_ID) per event"},
    )
    record(
        "ami_parse_all_fields_events_per_s",
        "events/s",
        round(results["ours_all_fields"]),
        {k: round(v) for k, v in results.items() if k not in ("ours", "ours_all_fields")},
        extra={"access": "as_dict() of every event (all fields materialised)"},
    )
    print_table(["ami_parse_events_per_s", "ami_parse_all_fields_events_per_s"])


if __name__ == "__main__":
    main()
