"""The live event stream (Server-Sent Events), cut to the caller's scope (``auth.stream``)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from api.keys import CONTAINER
from api.routing import Router, principal
from auth.events import SESSION_EVENTS
from auth.schemas import EventsQuery
from auth.stream import stream_filter

router = Router()


class _EventStream(EventSourceResponse):
    """An SSE response that also writes messages already encoded (``core.stream.Published.frame``)."""

    async def send_frames(self, frames: bytes) -> None:
        """Write encoded messages as ``send`` writes one: within the send timeout (a stalled client's
        connection is aborted), a reset connection stops the stream."""
        try:
            async with asyncio.timeout(self._send_timeout):
                await self.write(frames)
        except ConnectionResetError:
            self.stop_streaming()
            raise
        except TimeoutError:
            self.stop_streaming()
            self._abort_transport()
            raise


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
    every = c.settings.auth.stream_recheck_s
    loop = asyncio.get_running_loop()
    async with sse_response(request, response_cls=_EventStream) as resp:
        await resp.send(json.dumps({"user": who.user_id, "role": who.role.value}), event="hello")
        ttl = (who.expires_at - c.clock.now()).total_seconds() if who.expires_at else None
        # a safety net under the session events: the caller is re-checked every `every` seconds, so one
        # committed while the stream was subscribing is not missed
        checked_at = loop.time()
        agen = c.stream.subscribe_batches(keep, tick=every)
        try:
            async with asyncio.timeout(ttl), contextlib.aclosing(agen):
                async for batch in agen:
                    if loop.time() - checked_at >= every:
                        checked_at = loop.time()
                        if not await c.auth.still_valid(who):
                            await resp.send(json.dumps({"reason": "session.rechecked"}), event="session.ended")
                            break
                    if batch is None:
                        continue
                    frames: list[bytes] = []
                    ended = None
                    for ev in batch:
                        if ev.data["type"] in SESSION_EVENTS:
                            ended = ev.data["type"]
                            break
                        frames.append(ev.frame)
                    if frames:  # the events that came together, in one write
                        await resp.send_frames(b"".join(frames))
                    if ended is not None:
                        await resp.send(json.dumps({"reason": ended}), event="session.ended")
                        break
        except TimeoutError:
            await resp.send(json.dumps({"reason": "token.expired"}), event="session.ended")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
    return resp

