"""SSRF guard: static URL checks, resolution, and the pinning resolver."""

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from hooks.targets import (
    GuardedResolver,
    RefusedAddress,
    TargetRefused,
    address_refusal,
    check_target,
    resolve_and_check,
)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.251", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "2002:0a00:0001::1", "fe80::1%eth0",
])
def test_internal_addresses_refused(address):
    assert address_refusal(address, allow_private=False) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_allowed(address):
    assert address_refusal(address, allow_private=False) is None


def test_allow_private_still_refuses_multicast_and_unspecified():
    assert address_refusal("127.0.0.1", allow_private=True) is None
    assert address_refusal("10.0.0.1", allow_private=True) is None
    assert address_refusal("224.0.0.1", allow_private=True) == "multicast address"
    assert address_refusal("0.0.0.0", allow_private=True) == "unspecified address"


@pytest.mark.parametrize("url", [
    "ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "https://user:pw@example.com/",
    "https://user@example.com/", "http:///nohost", "https://127.0.0.1/hook", "http://[::1]:8080/",
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:7f00:1]/", "https://" + "a" * 3000 + ".com",
])
def test_check_target_refuses(url):
    with pytest.raises(TargetRefused) as info:
        check_target(url, allow_private=False)
    assert info.value.status == 422
    assert info.value.code == "hook-target-refused"


def test_check_target_accepts_names_and_allowed_literals():
    check_target("https://cases.bank.example/hooks?x=1", allow_private=False)
    check_target("http://127.0.0.1:8080/hooks", allow_private=True)
    check_target("http://[::1]:8080/hooks", allow_private=True)


async def test_resolve_and_check_resolves_names():
    with pytest.raises(TargetRefused) as info:
        await resolve_and_check("http://localhost:9/x", allow_private=False)
    assert "loopback" in info.value.message
    assert "127.0.0.1" in await resolve_and_check("http://localhost:9/x", allow_private=True)
    with pytest.raises(TargetRefused):
        await resolve_and_check("http://no-such-host.invalid/x", allow_private=False)


class ScriptedResolver(AbstractResolver):
    """Returns a different answer per call: a DNS-rebinding attacker."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    async def resolve(self, host, port=0, family=socket.AF_INET):
        address = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self):
        pass


async def test_guarded_resolver_checks_every_answer_it_returns():
    inner = ScriptedResolver(["93.184.216.34", "127.0.0.1"])
    resolver = GuardedResolver(allow_private=False, inner=inner)
    first = await resolver.resolve("rebind.example", 443)
    assert [r["host"] for r in first] == ["93.184.216.34"]
    with pytest.raises(RefusedAddress):
        await resolver.resolve("rebind.example", 443)
    await resolver.close()
