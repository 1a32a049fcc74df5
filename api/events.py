"""The live event stream (Server-Sent Events), cut to the caller's scope (``auth.stream``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from api.keys import CONTAINER
from api.routing import Router, principal
from auth.events import SESSION_EVENTS
from auth.schemas import EventsQuery
from auth.stream import stream_filter

router = Router()


@router.route("GET", "/v1/events", summary="Live domain events (SSE)", tag="events",
              query=EventsQuery, content_type="text/event-stream", errors=(401, 429))
async def events(request: web.Request) -> web.StreamResponse:
    """``text/event-stream`` of domain events (``call.agent_ringing``, ``call.answered``, ``call.ended``...).

    Each message's ``event`` is the type and ``data`` the JSON event. Browsers' EventSource pass a
    single-use ``?ticket=`` from ``POST /v1/events/tickets``. Optional ``types`` (comma-separated prefixes)
    narrows the stream. Only the caller's clients' events are sent (its own calls' for an agent, its
    team's for a supervisor with a team; events of no client to global admins only). The stream ends
    (last message ``session.ended``) when the caller's token is revoked or expires, or the user is
    deactivated or changed, on any instance.
    """
    who = principal(request)
    keep = stream_filter(who, tuple(p for p in request.query.get("types", "").split(",") if p))
    c = request.app[CONTAINER]
    async with sse_response(request) as resp:
        await resp.send(json.dumps({"user": who.user_id, "role": who.role.value}), event="hello")
        agen = c.stream.subscribe(keep)
        ttl = (who.expires_at - c.clock.now()).total_seconds() if who.expires_at else None
        guarded = _checked(agen, lambda: c.auth.still_valid(who), c.settings.auth.stream_recheck_s)
        try:
            async with asyncio.timeout(ttl), contextlib.aclosing(guarded):
                async for ev in guarded:
                    if ev is None or ev["type"] in SESSION_EVENTS:
                        reason = "session.rechecked" if ev is None else ev["type"]
                        await resp.send(json.dumps({"reason": reason}), event="session.ended")
                        break
                    await resp.send(json.dumps(ev, ensure_ascii=False), event=ev["type"], id=str(ev["seq"]))
        except TimeoutError:
            await resp.send(json.dumps({"reason": "token.expired"}), event="session.ended")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            await agen.aclose()
    return resp


async def _checked(agen: AsyncIterator[dict[str, Any]], still_valid: Callable[[], Awaitable[bool]],
                   every: float) -> AsyncGenerator[dict[str, Any] | None, None]:
    """``agen``'s events, re-checking the caller every ``every`` seconds; ``None`` (then the end) once invalid.

    A safety net under the session events: one committed while the stream was subscribing is not missed.
    """
    loop = asyncio.get_running_loop()
    checked_at = loop.time()
    pending: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(agen))
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, checked_at + every - loop.time()))
            if done:
                try:
                    ev = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                yield ev
            if loop.time() - checked_at >= every:
                checked_at = loop.time()
                if not await still_valid():
                    yield None
                    return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
