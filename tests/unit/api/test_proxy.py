"""X-Forwarded-For / X-Forwarded-Proto are believed from trusted proxies only."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.proxy import Network, client_of, forwarded_middleware

PROXIES: list[Network] = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("127.0.0.1/32")]


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    assert client_of("10.0.0.5", "203.0.113.9, 198.51.100.7, 10.0.0.9", PROXIES) == "198.51.100.7"
    assert client_of("10.0.0.5", "203.0.113.9", PROXIES) == "203.0.113.9"


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    assert client_of("192.0.2.1", "203.0.113.9", PROXIES) == "192.0.2.1"


def test_a_forged_or_missing_list_stops_at_the_last_trusted_hop() -> None:
    assert client_of("10.0.0.5", "", PROXIES) == "10.0.0.5"
    assert client_of("10.0.0.5", "not-an-address, 10.0.0.7", PROXIES) == "10.0.0.7"
    assert client_of("10.0.0.5", "::1", PROXIES) == "::1"


async def _seen(request: web.Request) -> web.Response:
    return web.json_response({"remote": request.remote, "scheme": request.scheme, "secure": request.secure})


async def _client(trusted: list[Network]) -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[forwarded_middleware(trusted)])
    app.router.add_get("/", _seen)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_a_trusted_proxy_sets_the_client_address_and_https() -> None:
    client = await _client(PROXIES)
    try:
        response = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9",
                                                  "X-Forwarded-Proto": "https"})
        assert await response.json() == {"remote": "203.0.113.9", "scheme": "https", "secure": True}
    finally:
        await client.close()


async def test_an_untrusted_peer_cannot_choose_its_address_or_scheme() -> None:
    client = await _client([ipaddress.ip_network("10.0.0.0/24")])
    try:
        response = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9",
                                                  "X-Forwarded-Proto": "https"})
        assert await response.json() == {"remote": "127.0.0.1", "scheme": "http", "secure": False}
    finally:
        await client.close()
