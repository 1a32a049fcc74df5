"""HTTP handlers of per-client settings: the numbers a client's calls present to its customers, and the client's
working settings (pooling, graces)."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal
from auth.models import Role
from clients.schemas import ClientSettingsIn, ClientSettingsOut, settings_json
from dialer.presented import ClientNumbers
from dialer.schemas import PresentedNumbersIn, PresentedNumbersOut

router = Router()
READERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
_CLIENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_PATH = f"/v1/clients/{{client_id:{_CLIENT}}}/presented-numbers"


def _out(numbers: ClientNumbers) -> PresentedNumbersOut:
    return PresentedNumbersOut(client_id=numbers.client_id, numbers=numbers.numbers, primary=numbers.primary,
                               updated_at=numbers.updated_at, updated_by=numbers.updated_by)


@router.route("GET", _PATH, summary="A client's presented numbers", tag="clients", roles=READERS,
              response=PresentedNumbersOut, errors=(401, 403, 404))
async def get_presented_numbers(request: web.Request) -> web.StreamResponse:
    """The caller numbers the client's calls present, primary first; 404 when it has none (its calls then
    present the PBX default)."""
    numbers = await request.app[CONTAINER].presented.get(principal(request), request.match_info["client_id"])
    return json_response(_out(numbers))


@router.route("PUT", _PATH, summary="Set a client's presented numbers", tag="clients", roles=(Role.ADMIN,),
              body=PresentedNumbersIn, response=PresentedNumbersOut, errors=(400, 401, 403, 404, 413, 422))
async def put_presented_numbers(request: web.Request) -> web.StreamResponse:
    """Replace the client's list. Every number is E.164 and valid for its country (422
    ``invalid-presented-number`` otherwise); the first is the primary, which every outbound call of the
    client's cases presents from now on."""
    req = await body(request, PresentedNumbersIn)
    numbers = await request.app[CONTAINER].presented.replace(principal(request), request.match_info["client_id"],
                                                             req.numbers)
    return json_response(_out(numbers))


_SETTINGS = f"/v1/clients/{{client_id:{_CLIENT}}}/settings"


@router.route("GET", _SETTINGS, summary="A client's settings", tag="clients", roles=READERS,
              response=ClientSettingsOut, errors=(401, 403, 404))
async def get_client_settings(request: web.Request) -> web.StreamResponse:
    """Pooling, the grace of promises to pay and of due callbacks (the defaults when never set)."""
    row = await request.app[CONTAINER].client_settings.get(principal(request), request.match_info["client_id"])
    return json_response(settings_json(row))


@router.route("PUT", _SETTINGS, summary="Set a client's settings", tag="clients", roles=(Role.ADMIN,),
              body=ClientSettingsIn, response=ClientSettingsOut, errors=(400, 401, 403, 404, 413, 422))
async def put_client_settings(request: web.Request) -> web.StreamResponse:
    """Replace the client's settings (audited ``client_settings.changed``). ``pooling``: a team's agents see
    and are offered their team's unassigned cases of this client (never another client's)."""
    req = await body(request, ClientSettingsIn)
    row = await request.app[CONTAINER].client_settings.put(principal(request), request.match_info["client_id"], req,
                                                           actor=actor(request))
    return json_response(settings_json(row))
