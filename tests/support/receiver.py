"""A real aiohttp HTTP server standing in for the case-management system in tests.

``async with Receiver(secret=..., script=[...]) as rx:`` listens on 127.0.0.1 on a free port, verifies
every request's Standard Webhooks signature with :func:`hooks.signing.verify`, records it, and answers
according to the script: a list of :class:`Reply` consumed one per verified request (then 200), or a
callable ``(request_no, RecordedRequest) -> Reply``. A request with a bad signature is answered 401 and
does not consume a script step.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from hooks.signing import InvalidSignature, verify


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. ``hang=True`` never answers (until the receiver closes): a client timeout."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


OK = Reply(200, "ok")


def fail(status: int, *, retry_after: str | None = None, body: str = "") -> Reply:
    """Shorthand for an error reply, optionally with ``Retry-After``."""
    hdrs = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status, body, hdrs)


HANG = Reply(hang=True)


@dataclass(slots=True)
class RecordedRequest:
    """One request as the receiver saw it."""

    order: int
    msg_id: str | None
    timestamp: str | None
    signature: str | None
    body: bytes
    json: Any
    verified: bool
    error: str | None
    path: str
    answered: int | None = None


Script = Sequence[Reply] | Callable[[int, RecordedRequest], Reply]


def default_case_key(req: RecordedRequest) -> str | None:
    """Case id of a payload: ``data.case_id`` or top-level ``case_id``."""
    if not isinstance(req.json, dict):
        return None
    data = req.json.get("data")
    if isinstance(data, dict) and "case_id" in data:
        return str(data["case_id"])
    value = req.json.get("case_id")
    return None if value is None else str(value)


class Receiver:
    """Scriptable, signature-verifying webhook receiver (async context manager)."""

    def __init__(self, *, secret: str, script: Script = (), path: str = "/hooks",
                 tolerance: int = 300) -> None:
        self.secret = secret
        self.path = path
        self.tolerance = tolerance
        self.requests: list[RecordedRequest] = []
        self._script = script
        self._step = 0
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The URL to deliver to."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _next_reply(self, rec: RecordedRequest) -> Reply:
        if callable(self._script):
            return self._script(rec.order, rec)
        step = self._step
        self._step += 1
        return self._script[step] if step < len(self._script) else OK

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        error = None
        try:
            verify(self.secret, request.headers, body, tolerance=self.tolerance)
        except InvalidSignature as exc:
            error = str(exc)
        rec = RecordedRequest(order=len(self.requests) + 1, msg_id=request.headers.get("webhook-id"),
                              timestamp=request.headers.get("webhook-timestamp"),
                              signature=request.headers.get("webhook-signature"), body=body, json=parsed,
                              verified=error is None, error=error, path=request.path)
        async with self._arrived:
            self.requests.append(rec)
            self._arrived.notify_all()
        reply = self._next_reply(rec) if rec.verified else Reply(401, "bad signature")
        if reply.hang:
            await self._closing.wait()
            raise web.HTTPServiceUnavailable
        rec.answered = reply.status
        return web.Response(status=reply.status, text=reply.body, headers=reply.headers)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        """Wait until at least ``count`` requests arrived; raise TimeoutError otherwise."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    def by_case(self, key: Callable[[RecordedRequest], str | None] = default_case_key,
                *, verified_only: bool = True) -> dict[str, list[RecordedRequest]]:
        """Requests grouped by case id, each group in arrival order (for per-case ordering checks)."""
        groups: dict[str, list[RecordedRequest]] = {}
        for req in self.requests:
            if verified_only and not req.verified:
                continue
            case = key(req)
            if case is not None:
                groups.setdefault(case, []).append(req)
        return groups

    def duplicates(self) -> dict[str, int]:
        """webhook-id -> number of times it arrived, for ids that arrived more than once."""
        counts = Counter(r.msg_id for r in self.requests if r.msg_id is not None)
        return {msg_id: n for msg_id, n in counts.items() if n > 1}

    def delivered_ids(self) -> set[str]:
        """Ids answered with a 2xx at least once (what the case system has accepted)."""
        return {r.msg_id for r in self.requests
                if r.msg_id is not None and r.answered is not None and 200 <= r.answered < 300}
