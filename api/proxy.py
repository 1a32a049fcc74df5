"""Behind a reverse proxy: the client's address and scheme from X-Forwarded-For / X-Forwarded-Proto, believed
only when the peer is one of ``server.trusted_proxies`` (from anyone else they are ignored: a client could
otherwise choose its own address for the rate limit and the audit trail)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_of(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client's address: walking X-Forwarded-For from the right (the nearest hop), the first address that
    is not a trusted proxy; the peer itself when it is not trusted, and the last trusted hop when the list ends
    (or holds something that is not an address) before an untrusted one."""

    def is_trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return addr is not None and any(addr in net for net in trusted)

    current = _address(peer)
    if not is_trusted(current):
        return peer
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        addr = _address(hop)
        if addr is None:
            break
        current = addr
        if not is_trusted(addr):
            break
    return str(current)


def forwarded_middleware(trusted: Sequence[Network]) -> Middleware:
    """A middleware that rewrites ``request.remote`` and ``request.scheme`` from a trusted proxy's headers."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        peer_addr = _address(peer)
        if peer_addr is None or not any(peer_addr in net for net in trusted):
            return await handler(request)
        remote = client_of(peer, ",".join(request.headers.getall("X-Forwarded-For", [])), trusted)
        proto = request.headers.get("X-Forwarded-Proto", "").rsplit(",", 1)[-1].strip().lower()
        scheme = proto if proto in ("http", "https") else request.scheme
        return await handler(request.clone(remote=remote, scheme=scheme))

    return forwarded
