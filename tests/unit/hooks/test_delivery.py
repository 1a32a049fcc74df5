"""deliver() against the real local test receiver: outcomes, Retry-After, timeouts, SSRF, pinning."""

import socket
import time

import aiohttp
import pytest

from hooks import signing
from hooks.delivery import EXCERPT_CHARS, create_session, deliver
from hooks.targets import GuardedResolver
from tests.support.receiver import HANG, OK, Receiver, Reply, fail
from tests.unit.hooks.test_targets import ScriptedResolver

SECRET = signing.generate_secret()


def _body(case_id: str, seq: int) -> bytes:
    return f'{{"type":"call.ended","data":{{"case_id":"{case_id}","seq":{seq}}}}}'.encode()


async def _send(session, url, msg_id, body, *, wait=2.0, allow_private=True, secrets=None):
    return await deliver(session, url, msg_id=msg_id, timestamp=int(time.time()), body=body,
                         secrets=secrets or [SECRET], timeout=wait, allow_private=allow_private)


async def test_scripted_sequence_of_outcomes():
    script = [fail(500, body="boom"), fail(503, retry_after="7"), HANG, fail(410), OK]
    async with Receiver(secret=SECRET, script=script) as rx, create_session(allow_private=True) as s:
        results = [await _send(s, rx.url, "msg_A", _body("c1", 1), wait=0.3) for _ in range(5)]
        seen = await rx.wait_for(5)
    assert [r.outcome for r in results] == ["retry", "retry", "retry", "gone", "delivered"]
    assert [r.status for r in results] == [500, 503, None, 410, 200]
    assert results[0].response_excerpt == "boom" and results[0].error == "HTTP 500"
    assert results[1].retry_after == 7.0
    assert results[2].error is not None and "timeout" in results[2].error
    assert results[4].error is None and results[4].retry_after is None
    assert all(r.duration_ms >= 0 for r in results)
    assert all(req.verified for req in seen)
    assert rx.duplicates() == {"msg_A": 5}
    assert rx.delivered_ids() == {"msg_A"}


async def test_redirect_is_not_followed_and_retried():
    script = [Reply(302, headers={"Location": "http://169.254.169.254/"})]
    async with Receiver(secret=SECRET, script=script) as rx, create_session(allow_private=True) as s:
        result = await _send(s, rx.url, "msg_R", b"{}")
        await rx.wait_for(1)
    assert result.outcome == "retry" and result.status == 302
    assert result.error is not None and "169.254.169.254" in result.error
    assert len(rx.requests) == 1  # nothing followed the Location


async def test_other_4xx_is_retried_and_excerpt_is_bounded_and_safe():
    script = [Reply(400, body="\x1b[31mno\x00" + "x" * 5000)]
    async with Receiver(secret=SECRET, script=script) as rx, create_session(allow_private=True) as s:
        result = await _send(s, rx.url, "msg_B", b"{}")
    assert result.outcome == "retry" and result.status == 400
    assert len(result.response_excerpt) == EXCERPT_CHARS
    assert "\x1b" not in result.response_excerpt and "\x00" not in result.response_excerpt


async def test_wrong_secret_is_rejected_by_the_receiver():
    async with Receiver(secret=SECRET, script=[OK]) as rx, create_session(allow_private=True) as s:
        result = await _send(s, rx.url, "msg_W", b"{}", secrets=[signing.generate_secret()])
        rotated = await _send(s, rx.url, "msg_W2", b"{}", secrets=[signing.generate_secret(), SECRET])
    assert result.outcome == "retry" and result.status == 401
    assert rotated.outcome == "delivered"
    assert [r.verified for r in rx.requests] == [False, True]


async def test_connection_refused_is_a_retry_not_an_exception():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with create_session(allow_private=True) as s:
        result = await _send(s, f"http://127.0.0.1:{port}/hooks", "msg_C", b"{}")
    assert result.outcome == "retry" and result.status is None
    assert result.error is not None and "Connect" in result.error


async def test_private_targets_fail_without_contacting_them():
    async with Receiver(secret=SECRET) as rx, create_session(allow_private=False) as s:
        literal = await _send(s, rx.url, "msg_P", b"{}", allow_private=False)
        named = await _send(s, f"http://localhost:{rx.port}/hooks", "msg_P", b"{}", allow_private=False)
        scheme = await _send(s, "ftp://example.com/", "msg_P", b"{}", allow_private=False)
    assert [r.outcome for r in (literal, named, scheme)] == ["failed", "failed", "failed"]
    assert named.error is not None and "loopback" in named.error
    assert rx.requests == []


@pytest.mark.parametrize(("allow_private", "outcome"), [(True, "delivered"), (False, "failed")])
async def test_connection_goes_to_the_checked_address(allow_private, outcome):
    async with Receiver(secret=SECRET) as rx:
        resolver = GuardedResolver(allow_private=allow_private, inner=ScriptedResolver(["127.0.0.1"]))
        connector = aiohttp.TCPConnector(resolver=resolver)
        async with aiohttp.ClientSession(connector=connector) as s:
            result = await _send(s, f"http://cases.bank.example:{rx.port}/hooks", "msg_D", b"{}",
                                 allow_private=allow_private)
    assert result.outcome == outcome
    assert len(rx.requests) == (1 if allow_private else 0)


async def test_receiver_helpers_group_by_case_in_arrival_order():
    async with Receiver(secret=SECRET) as rx, create_session(allow_private=True) as s:
        for seq, case in enumerate(["c1", "c2", "c1", "c1", "c2"], start=1):
            await _send(s, rx.url, f"msg_{seq}", _body(case, seq))
        await rx.wait_for(5)
        with pytest.raises(TimeoutError):
            await rx.wait_for(6, timeout=0.05)
    groups = rx.by_case()
    assert [r.json["data"]["seq"] for r in groups["c1"]] == [1, 3, 4]
    assert [r.json["data"]["seq"] for r in groups["c2"]] == [2, 5]
    assert rx.duplicates() == {}
    assert [r.order for r in rx.requests] == [1, 2, 3, 4, 5]


async def test_callable_script():
    def script(n, req):
        return OK if n % 2 == 0 else fail(429, retry_after="Wed, 21 Oct 2099 07:28:00 GMT")

    async with Receiver(secret=SECRET, script=script) as rx, create_session(allow_private=True) as s:
        first = await _send(s, rx.url, "msg_X", b"{}")
        second = await _send(s, rx.url, "msg_X", b"{}")
    assert first.outcome == "retry" and first.status == 429
    assert first.retry_after is not None and first.retry_after > 86400
    assert second.outcome == "delivered"
