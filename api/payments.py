"""HTTP handlers of payments and promises: validate, call the payment service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from payments.schemas import (
    CasePayments,
    PaymentsIn,
    PaymentsOut,
    PromiseList,
    PromiseQuery,
    payment_json,
    promise_json,
)
from payments.service import READERS, WRITERS

router = Router()
CLIENT = "{client:[A-Za-z0-9][A-Za-z0-9._-]{0,63}}"


@router.route("POST", f"/v1/clients/{CLIENT}/payments", summary="Payments from the case system (up to 10,000)",
              tag="payments", roles=WRITERS, body=PaymentsIn, response=PaymentsOut, errors=(401, 403, 404, 413, 422))
async def post_payments(request: web.Request) -> web.StreamResponse:
    """Each item is validated and stored on its own, once per ``payment_id`` (sending it again is
    ``unchanged``; with other content ``conflict``, the first kept). A payment belongs to a case of the client
    (``case_external_id``); one that names no case of the client is ``no-such-case``. Each new payment emits
    ``payment.received`` and may turn its case's pending promises ``kept`` (``promise.kept``); one reported after
    a promise's deadline passed but paid before it may keep a ``partial`` or ``broken`` promise after all
    (``promise.kept_late``)."""
    req = await body(request, PaymentsIn, bulk=True)
    results = await request.app[CONTAINER].payments.receive(principal(request), client_id=request.match_info["client"],
                                                            items=req.payments, actor=actor(request))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
    return json_response({"counts": counts, "results": [
        {"index": r.index, "payment_id": r.payment_id, "result": r.result, "id": r.id, "errors": r.errors}
        for r in results]})


@router.route("GET", "/v1/promises", summary="Promises to pay and their status", tag="payments", roles=READERS,
              query=PromiseQuery, response=PromiseList, errors=(401, 403, 422))
async def list_promises(request: web.Request) -> web.StreamResponse:
    """``pending`` (with ``paid`` so far), ``kept``, ``partial`` or ``broken``, the nearest deadline first,
    inside the caller's walls (an agent: the promises it took; a team's supervisor: its team's)."""
    q = query(request, PromiseQuery)
    items = await request.app[CONTAINER].payments.promises(principal(request), status=q.status, case_id=q.case_id,
                                                           limit=q.limit)
    return json_response({"items": [promise_json(p) for p in items]})


@router.route("GET", "/v1/cases/{case_id}/payments", summary="A case's payments and promises", tag="payments",
              roles=READERS, response=CasePayments, errors=(401, 403, 404))
async def case_payments(request: web.Request) -> web.StreamResponse:
    """The payments of a case the caller may see (newest first) and its promises with their status."""
    case_id = request.match_info["case_id"]
    payments, promises = await request.app[CONTAINER].payments.of_case(principal(request), case_id)
    return json_response({"case_id": case_id, "payments": [payment_json(p) for p in payments],
                          "promises": [promise_json(p) for p in promises]})
