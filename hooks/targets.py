"""Which webhook URLs we are willing to call (SSRF guard) and a resolver that pins checked addresses.

Two layers, both needed:

* :func:`check_target` (sync, static) and :func:`resolve_and_check` (async, resolves the host with
  ``loop.getaddrinfo``) validate a URL when a subscription is created or changed, so the API can answer
  422 ``hook-target-refused``.
* :class:`GuardedResolver` is plugged into the delivery session's ``aiohttp.TCPConnector``. Every
  connection aiohttp opens resolves the host through it, and it refuses refused addresses right there, so
  the address we check is the address we connect to: a DNS answer that changes between the check and the
  connection (DNS rebinding) cannot smuggle a private address in. aiohttp does not consult the resolver
  for IP literals, which is why :func:`hooks.delivery.deliver` also runs :func:`check_target`.

Refused unless ``allow_private``: loopback, RFC 1918/ULA private, link-local (incl. cloud metadata
169.254.169.254), shared address space, reserved, documentation and any other non-global address, with
IPv4-mapped, 6to4 and Teredo IPv6 addresses judged by the IPv4 address they embed. Multicast and the
unspecified address are refused even when private targets are allowed (nothing sensible listens there).
If a name resolves to several addresses and any one is refused, the whole name is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from core.errors import CallguardError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048


class TargetRefused(CallguardError):
    """A webhook target URL or the address it resolves to is not allowed."""

    status = 422
    code = "hook-target-refused"


class RefusedAddress(OSError):
    """Raised by :class:`GuardedResolver` inside aiohttp (an OSError, so aiohttp wraps it)."""


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """Return why an IP address is refused, or None when it may be called."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified:
        return "unspecified address"
    if allow_private:
        return None
    for flag in ("is_loopback", "is_link_local", "is_private", "is_reserved"):
        if getattr(ip, flag):
            return flag.removeprefix("is_").replace("_", "-") + " address"
    if not ip.is_global:
        return "non-global address"
    return None


def _parse(url: str) -> URL:
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused("webhook URL too long", details={"max_length": MAX_URL_LENGTH})
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise TargetRefused("webhook URL is not valid", details={"url": url}) from exc
    return parsed


def check_target(url: str, *, allow_private: bool) -> None:
    """Static checks: http(s) only, no credentials, a host, and IP literals not refused."""
    parsed = _parse(url)
    if parsed.scheme not in ("http", "https"):
        raise TargetRefused("webhook URL must be http or https", details={"scheme": parsed.scheme})
    if parsed.user is not None or parsed.password is not None:
        raise TargetRefused("webhook URL must not contain credentials")
    host = parsed.host
    if not host:
        raise TargetRefused("webhook URL has no host")
    try:
        port = parsed.port
    except ValueError as exc:
        raise TargetRefused("webhook URL has an invalid port") from exc
    if port is not None and not 0 < port < 65536:
        raise TargetRefused("webhook URL has an invalid port")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked when resolved
    reason = address_refusal(host, allow_private=allow_private)
    if reason is not None:
        raise TargetRefused(f"webhook target refused: {reason}", details={"address": host})


async def resolve_and_check(url: str, *, allow_private: bool) -> list[str]:
    """Run :func:`check_target`, resolve the host and refuse it if any address is refused."""
    check_target(url, allow_private=allow_private)
    parsed = URL(url)
    host = parsed.host
    assert host is not None  # check_target guarantees it
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, parsed.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused("webhook host does not resolve", details={"host": host}) from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason is not None:
            raise TargetRefused(f"webhook target refused: {reason}",
                                details={"host": host, "address": address})
    return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses names resolving to refused addresses (DNS-rebinding safe)."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve with the inner resolver and refuse the name if any address is refused."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = address_refusal(result["host"], allow_private=self._allow_private)
            if reason is not None:
                raise RefusedAddress(f"{host} resolves to {result['host']}: {reason}")
        return results

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()

