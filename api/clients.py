"""HTTP handlers of per-client dialing settings: the numbers a client's calls present to its customers."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal
from auth.models import Role
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
