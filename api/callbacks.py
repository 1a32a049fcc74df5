"""HTTP handlers of callbacks: validate, call the callback service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, json_response, principal, query
from callbacks.schemas import CallbackList, CallbackQuery, callback_to_json
from callbacks.service import READERS

router = Router()


@router.route("GET", "/v1/callbacks", summary="Scheduled callbacks, due first", tag="callbacks", roles=READERS,
              query=CallbackQuery, response=CallbackList, errors=(401, 403, 422))
async def list_callbacks(request: web.Request) -> web.StreamResponse:
    """``view=mine`` (default), ``team`` or ``client``, always inside the caller's scope (an agent sees its own);
    ``due_before=<now>`` lists the overdue ones. Dialling one is an ordinary ``POST /v1/calls`` through the gate."""
    q = query(request, CallbackQuery)
    items = await request.app[CONTAINER].callbacks.list(principal(request), view=q.view, state=q.state,
                                                        due_before=q.due_before, limit=q.limit)
    return json_response({"items": [callback_to_json(cb) for cb in items]})
