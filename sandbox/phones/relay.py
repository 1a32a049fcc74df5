"""UDP relay in front of the customer trunk port: spreads calls over customer-line processes.

One pjsua process holds at most ``PJSUA_MAX_CALLS`` (4) calls, but Asterisk dials every customer at
one address. The relay owns that port and forwards each request, unchanged, to the customer-line
process with the fewest active calls, keyed by Call-ID (so CANCEL, ACK and retransmissions follow
their INVITE). Asterisk's Via carries ``rport``, so the process answers to the relay, which sends the
response back to where the request came from. The process's 200 OK carries its own Contact, so
in-dialog requests (ACK, BYE, re-INVITE) and RTP then go directly between Asterisk and the process.

The SIP text helpers are pure; ``CustomerRelay`` is the asyncio datagram protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import cast

log = logging.getLogger(__name__)

Address = tuple[str, int]
ROUTE_TTL_S = 64.0  # SIP timer B/F: a transaction's datagrams never outlive this


@dataclass(frozen=True)
class SipSummary:
    """What the relay needs from one datagram."""

    call_id: str
    method: str  # request method, or the CSeq method of a response
    status: int  # 0 for a request


def header_values(data: bytes, *names: str) -> list[str]:
    """Values of the headers called any of ``names`` (lower-case, compact forms included), in order."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    values = []
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in names:
            values.append(value.strip())
    return values


def summarize(data: bytes) -> SipSummary | None:
    """Call-ID, method and status of a SIP datagram; None for keep-alives and garbage."""
    first = data.split(b"\r\n", 1)[0].decode("utf-8", errors="replace").split(" ")
    call_ids = header_values(data, "call-id", "i")
    if len(first) < 3 or not call_ids:
        return None
    if first[0] == "SIP/2.0":
        cseq = header_values(data, "cseq")
        method = cseq[0].split()[-1] if cseq and cseq[0].split() else ""
        return SipSummary(call_ids[0], method.upper(), int(first[1]) if first[1].isdigit() else 0)
    return SipSummary(call_ids[0], first[0].upper(), 0)


def top_via_address(data: bytes) -> Address | None:
    """Where a response goes by its top Via (``received``/``rport`` win over sent-by)."""
    vias = header_values(data, "via", "v")
    if not vias:
        return None
    top = vias[0].split(",", 1)[0]
    parts = top.split(";")
    sent_by = parts[0].split()[-1] if parts[0].split() else ""
    host, _, port = sent_by.partition(":")
    params = dict(p.strip().partition("=")[::2] for p in parts[1:])
    host = params.get("received") or host
    port = params.get("rport") or port or "5060"
    return (host, int(port)) if host and port.isdigit() else None


@dataclass
class _Route:
    worker: int
    upstream: Address
    released_at: float | None = None


@dataclass
class RelayState:
    """Pure routing state: Call-ID -> worker, active calls per worker."""

    capacity: int
    workers: list[Address] = field(default_factory=list)
    routes: dict[str, _Route] = field(default_factory=dict)
    active: list[set[str]] = field(default_factory=list)

    def set_workers(self, workers: list[Address]) -> None:
        """The customer-line processes' SIP addresses (index = worker number)."""
        self.workers = list(workers)
        self.active = [set() for _ in workers]

    def route_request(self, summary: SipSummary, source: Address, now: float) -> Address | None:
        """Worker address for a request from upstream (new INVITEs go to the least loaded worker)."""
        if not self.workers:
            return None
        route = self.routes.get(summary.call_id)
        if route is None:
            self._prune(now)
            worker = min(range(len(self.workers)), key=lambda i: (len(self.active[i]), i))
            if len(self.active[worker]) >= self.capacity:
                log.warning("customer line: all %d processes hold %d calls; %s will be refused",
                            len(self.workers), self.capacity, summary.call_id)
            route = _Route(worker, source)
            self.routes[summary.call_id] = route
            if summary.method == "INVITE":
                self.active[worker].add(summary.call_id)
            else:
                route.released_at = now  # out-of-dialog OPTIONS etc.: no call to count
        return self.workers[route.worker]

    def route_response(self, data: bytes, summary: SipSummary | None, now: float) -> Address | None:
        """Upstream address for a datagram a worker sent to the relay (a response)."""
        route = self.routes.get(summary.call_id) if summary else None
        if summary and route and summary.method == "INVITE" and summary.status >= 300:
            self.release(summary.call_id, now)  # refused: pjsua may not even report it as a call
        return route.upstream if route else top_via_address(data)

    def release(self, call_id: str, now: float) -> None:
        """The call ended: free its slot (the route stays ``ROUTE_TTL_S`` for stray retransmissions)."""
        route = self.routes.get(call_id)
        if route is None:
            return
        self.active[route.worker].discard(call_id)
        if route.released_at is None:
            route.released_at = now

    def is_worker(self, address: Address) -> bool:
        """True if ``address`` is one of the customer-line processes."""
        return address in self.workers

    def _prune(self, now: float) -> None:
        stale = [k for k, r in self.routes.items() if r.released_at is not None and now - r.released_at > ROUTE_TTL_S]
        for key in stale:
            del self.routes[key]


class CustomerRelay(asyncio.DatagramProtocol):
    """Datagram protocol bound to the customer trunk port (see module doc)."""

    def __init__(self, capacity: int) -> None:
        self.state = RelayState(capacity)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        # (3.11's selector datagram transport does not subclass asyncio.DatagramTransport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """Forward a request to its worker, or a worker's response back upstream."""
        if self.transport is None:
            return
        source: Address = (str(addr[0]), int(addr[1]))
        summary = summarize(data)
        now = time.monotonic()
        if self.state.is_worker(source):
            target = self.state.route_response(data, summary, now)
        elif summary is not None and summary.status == 0:
            target = self.state.route_request(summary, source, now)
        else:
            target = None  # keep-alive, or a response upstream sent here (the relay sends no requests)
        if target is not None:
            self.transport.sendto(data, target)

    def release(self, call_id: str) -> None:
        """A customer-line process reported the call ended."""
        self.state.release(call_id, time.monotonic())

    @property
    def port(self) -> int:
        """The bound UDP port."""
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port
