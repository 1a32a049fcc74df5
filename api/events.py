"""The live event stream (Server-Sent Events): agents see their own calls, supervisors all."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from api.keys import CONTAINER
from api.routing import Router, principal
from auth.models import Role

router = Router()
SEE_ALL = {Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.INTEGRATION, Role.QA}


@router.route("GET", "/v1/events", summary="Live domain events (SSE)", tag="events",
              content_type="text/event-stream", errors=(401,))
async def events(request: web.Request) -> web.StreamResponse:
    """``text/event-stream`` of domain events (``call.agent_ringing``, ``call.answered``, ``call.ended``...).

    Each message's ``event`` is the type and ``data`` the JSON event. Browsers' EventSource may pass
    the token as ``?access_token=``. Optional ``types`` (comma-separated prefixes) narrows the stream.
    """
    who = principal(request)
    prefixes = tuple(p for p in request.query.get("types", "").split(",") if p)

    def keep(ev: dict[str, Any]) -> bool:
        if who.role not in SEE_ALL and ev.get("agent_id") != who.user_id:
            return False
        return not prefixes or str(ev["type"]).startswith(prefixes)

    stream = request.app[CONTAINER].stream
    async with sse_response(request) as resp:
        await resp.send(json.dumps({"user": who.user_id, "role": who.role.value}), event="hello")
        agen = stream.subscribe(keep)
        try:
            async for ev in agen:
                await resp.send(json.dumps(ev, ensure_ascii=False), event=ev["type"], id=str(ev["seq"]))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            await agen.aclose()
    return resp
