"""One webhook delivery attempt over HTTP: sign, POST, classify the answer (never raises for the network).

Outcomes (the caller's dispatcher acts on them):

* ``delivered``: any 2xx.
* ``gone``: 410; the caller disables the subscription and stops retrying its messages.
* ``retry``: every other answer and every network failure (timeout, refused connection, reset, TLS,
  DNS failure). That includes:

  - 3xx: redirects are never followed (a redirect could point anywhere, including internal addresses,
    and the signature binds nothing to the URL). A redirect is usually a misconfigured URL (http->https,
    moved endpoint); we retry so the operator has the whole backoff window to fix the subscription
    instead of losing the message, and the ``Location`` is put in ``error`` for the attempt log.
  - 4xx other than 410 (400, 401, 404, 413, 429...): Standard Webhooks treats every non-2xx as a failure
    to retry; a 401 after a secret rotation or a 404 during a consumer deploy is often transient.
* ``failed``: permanent for this target as configured: the URL is refused by the SSRF policy (scheme,
  credentials, private address by literal or by DNS) or is not a valid URL. Retrying cannot help; the
  caller dead-letters the message and flags the subscription.

``retry_after`` carries the receiver's ``Retry-After`` (seconds, delta or HTTP date) on non-2xx answers,
for :func:`hooks.backoff.next_attempt_at`. ``response_excerpt`` is at most 512 printable characters of
the response body (control characters replaced), safe to store and show.

The session must come from :func:`create_session`: it pins DNS answers through
:class:`hooks.targets.GuardedResolver`, ignores proxy environment variables and stores no cookies.

Dispatcher contract (the caller's loop, not in this module): claim due outbox rows with a lease
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), keep ``webhook-id`` = the outbox message id for every attempt,
use a fresh ``timestamp`` per attempt, record each :class:`DeliveryResult` as an attempt row, schedule the
next try with :func:`hooks.backoff.next_attempt_at` (``None`` -> dead letter), disable the subscription on
``gone``, dead-letter on ``failed``, and keep per-case order by not sending a case's next message while an
earlier one of the same subscription is still pending.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import aiohttp

from hooks.backoff import parse_retry_after
from hooks.signing import headers as signed_headers
from hooks.targets import GuardedResolver, RefusedAddress, TargetRefused, check_target

Outcome = Literal["delivered", "retry", "gone", "failed"]
EXCERPT_CHARS = 512
_READ_BYTES = EXCERPT_CHARS * 4
USER_AGENT = "Callguard-Webhooks/1"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt produced; stored by the caller as one attempt row."""

    outcome: Outcome
    status: int | None
    duration_ms: int
    retry_after: float | None
    response_excerpt: str
    error: str | None


def create_session(*, allow_private: bool, limit: int = 20) -> aiohttp.ClientSession:
    """Build the delivery session (call inside the running loop; use as ``async with``)."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=allow_private), limit=limit,
                                     limit_per_host=4)
    return aiohttp.ClientSession(connector=connector, trust_env=False,
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 headers={"user-agent": USER_AGENT})


def _safe_excerpt(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "gone"
    return "retry"


async def deliver(session: aiohttp.ClientSession, url: str, *, msg_id: str, timestamp: int, body: bytes,
                  secrets: list[str], timeout: float,  # noqa: ASYNC109 - becomes aiohttp ClientTimeout
                  allow_private: bool = False) -> DeliveryResult:
    """POST one signed message; classify the answer. Network errors become a result, never an exception.

    ``allow_private`` must match the policy the session's resolver was created with; it is needed here
    because aiohttp does not consult the resolver for IP-literal hosts.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        check_target(url, allow_private=allow_private)
    except TargetRefused as exc:
        return DeliveryResult("failed", None, elapsed(), None, "", exc.message)
    hdrs = signed_headers(secrets, msg_id, timestamp, body)
    try:
        async with session.post(url, data=body, headers=hdrs, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            status = resp.status
            retry_after_raw = resp.headers.get("Retry-After")
            location = resp.headers.get("Location")
            try:
                raw = await resp.content.read(_READ_BYTES)
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The status already arrived; a body that fails to come is not worth a retry.
                raw = f"[body unreadable: {_describe(exc)}]".encode()
    except TimeoutError:
        return DeliveryResult("retry", None, elapsed(), None, "", f"timeout after {timeout:g}s")
    except aiohttp.InvalidURL as exc:
        return DeliveryResult("failed", None, elapsed(), None, "", _describe(exc))
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, RefusedAddress):
            return DeliveryResult("failed", None, elapsed(), None, "", f"target refused: {exc.os_error}")
        return DeliveryResult("retry", None, elapsed(), None, "", _describe(exc))
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        return DeliveryResult("retry", None, elapsed(), None, "", _describe(exc))

    outcome = _classify(status)
    retry_after = None
    error = None
    if outcome != "delivered":
        retry_after = parse_retry_after(retry_after_raw, datetime.now(UTC))
        error = f"HTTP {status}"
        if 300 <= status < 400:
            error = f"HTTP {status}: redirect not followed (Location: {(location or '')[:200]})"
    return DeliveryResult(outcome, status, elapsed(), retry_after, _safe_excerpt(raw), error)
