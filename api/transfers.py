"""HTTP handlers of call transfers: validate, call the service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal
from auth.models import Role
from dialer.schemas import LegsOut, TransferOut, TransferRequest, legs_to_json, transfer_to_json

router = Router()
TRANSFERRERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION)
READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.INTEGRATION, Role.QA)


@router.route("POST", "/v1/calls/{call_id}/transfer", summary="Transfer a call's customer", tag="calls",
              roles=TRANSFERRERS, body=TransferRequest, response=TransferOut, status=202,
              errors=(401, 403, 404, 409, 422, 503))
async def transfer_call(request: web.Request) -> web.StreamResponse:
    """Hand the customer to another agent, a supervisor or an outside number; the call keeps its id and gains a
    leg.

    ``target`` is a user id, resolved by the service to its phone inside the call's walls, and must be
    available. ``number`` is an outside number: a dial, for the call's case (a call without one is refused),
    by whoever transfers: normalised to E.164 and decided by the compliance gate as ``POST /v1/calls`` would
    (logged in the decision log; blocked: 409 with the gate's code, messages and explanation, and nothing
    changes). Allowed, the PBX dials it through the customer trunk presenting the client's number.
    ``blind``: the customer goes straight to the target. ``attended``: the customer waits with music on hold
    while the agent's phone talks to the target (``call.transfer_consulting``), then the agent completes or
    cancels it. The steps arrive as events; if the target does not answer, the customer goes
    back to the agent who transferred (``call.transfer_failed``).
    """
    req = await body(request, TransferRequest)
    transfer = await request.app[CONTAINER].transfers.request(
        principal(request), request.match_info["call_id"], target=req.target, number=req.number, mode=req.mode)
    return json_response(transfer_to_json(transfer), status=202,
                         headers={"Location": f"/v1/calls/{transfer.call_id}/legs"})


@router.route("POST", "/v1/calls/{call_id}/transfer/complete", summary="Complete an attended transfer",
              tag="calls", roles=TRANSFERRERS, response=TransferOut, status=202, errors=(401, 403, 404, 409, 503))
async def complete_transfer(request: web.Request) -> web.StreamResponse:
    """The target of an attended transfer answered (``consulting``): the customer, on hold until now, joins
    the target and the agent's consultation ends (``call.transfer_completed``)."""
    transfer = await request.app[CONTAINER].transfers.complete(principal(request), request.match_info["call_id"])
    return json_response(transfer_to_json(transfer), status=202)


@router.route("POST", "/v1/calls/{call_id}/transfer/cancel", summary="Cancel an attended transfer",
              tag="calls", roles=TRANSFERRERS, response=TransferOut, status=202, errors=(401, 403, 404, 409, 503))
async def cancel_transfer(request: web.Request) -> web.StreamResponse:
    """An attended transfer still ringing or consulting: the target's leg is hung up and the agent has the
    customer back (``call.transfer_cancelled``)."""
    transfer = await request.app[CONTAINER].transfers.cancel(principal(request), request.match_info["call_id"])
    return json_response(transfer_to_json(transfer), status=202)


@router.route("GET", "/v1/calls/{call_id}/legs", summary="A call's legs and transfers", tag="calls",
              roles=READERS, response=LegsOut, errors=(401, 404))
async def call_legs(request: web.Request) -> web.StreamResponse:
    """Who talked to the customer, from when to when (a call without a transfer has no legs yet)."""
    call_id = request.match_info["call_id"]
    legs, transfers = await request.app[CONTAINER].transfers.legs(principal(request), call_id)
    return json_response(legs_to_json(call_id, legs, transfers))
