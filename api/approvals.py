"""HTTP handlers of the two-person rule: ask for a release, list and read requests, approve or reject."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from approvals.schemas import (
    DecisionIn,
    NumberRelease,
    ReleaseRequestIn,
    ReleaseRequestOut,
    ReleaseRequestPage,
    ReleaseRequestQuery,
)
from approvals.service import DECIDERS, READERS, REQUESTERS, ApprovalService
from core.phone import normalize

router = Router()
TAG = "approvals"
REQUEST = "{request_id:[0-9a-f-]{36}}"


def _svc(request: web.Request) -> ApprovalService:
    return request.app[CONTAINER].approvals


@router.route("POST", "/v1/release-requests", summary="Ask for a two-person release", tag=TAG, roles=REQUESTERS,
              body=ReleaseRequestIn, response=ReleaseRequestOut, status=201, errors=(401, 403, 404, 409, 422),
              links={name: {"operationId": f"{TAG}.{op}", "parameters": {"request_id": "$response.body#/id"}}
                     for name, op in (("GetReleaseRequest", "get_release_request"),
                                      ("ApproveReleaseRequest", "approve_release_request"),
                                      ("RejectReleaseRequest", "reject_release_request"))})
async def create_release_request(request: web.Request) -> web.StreamResponse:
    """A supervisor or manager asks, with a reason, to lift one stop no single person may lift:

    - ``case_hold``: a legal hard stop the case system set on a case (deceased, suspected_fraud, attorney,
      bankruptcy, dispute, cease_request; any other active hold of the case may be asked for too);
    - ``do_not_call_number``: a case number marked ``do_not_call``, back to ``valid``;
    - ``recording_legal_hold``: a recording's legal hold.

    Nothing changes until a manager or admin of the same client, another person, approves it
    (``POST /v1/release-requests/{request_id}/approve``). 404 for a case or recording the caller may not
    see; 409 ``nothing-to-release`` when it is not held, ``release-already-requested`` while a request for
    it is pending. Requests expire after ``approvals.request_ttl_days`` (default 7). Audited
    (``release_request.created``).
    """
    target = (await body(request, ReleaseRequestIn)).root
    if isinstance(target, NumberRelease):
        region = request.app[CONTAINER].settings.dialer.default_region
        target = target.model_copy(update={"number": normalize(target.number, region)})
    out = await _svc(request).request(principal(request), target, actor=actor(request))
    return json_response(out, status=201, headers={"Location": f"/v1/release-requests/{out.id}"})


@router.route("GET", "/v1/release-requests", summary="Release requests", tag=TAG, roles=READERS,
              query=ReleaseRequestQuery, response=ReleaseRequestPage, errors=(401, 403, 422))
async def list_release_requests(request: web.Request) -> web.StreamResponse:
    """The requests of the caller's clients (a team's supervisor: its team's), newest first."""
    return json_response(await _svc(request).list(principal(request), query(request, ReleaseRequestQuery)))


@router.route("GET", f"/v1/release-requests/{REQUEST}", summary="One release request", tag=TAG, roles=READERS,
              response=ReleaseRequestOut, errors=(401, 403, 404))
async def get_release_request(request: web.Request) -> web.StreamResponse:
    """One request; another client's answers 404, like a missing one."""
    return json_response(await _svc(request).get(principal(request), request.match_info["request_id"]))


@router.route("POST", f"/v1/release-requests/{REQUEST}/approve", summary="Approve and carry out a release",
              tag=TAG, roles=DECIDERS, body=DecisionIn, response=ReleaseRequestOut, errors=(401, 403, 404, 409))
async def approve_release_request(request: web.Request) -> web.StreamResponse:
    """A manager or admin of the request's client, not the requester, approves with a reason: the release is
    carried out in the same transaction (the hold released, the number valid again, the legal hold lifted)
    and audited with both people and both reasons. 409 ``same-person`` for the requester,
    ``release-request-decided`` for a request already used, ``release-request-expired``, ``nothing-to-release``
    when the stop is gone already, ``case-closed`` for a number of a closed case."""
    req = await body(request, DecisionIn)
    out = await _svc(request).approve(principal(request), request.match_info["request_id"], reason=req.reason,
                                      actor=actor(request))
    return json_response(out)


@router.route("POST", f"/v1/release-requests/{REQUEST}/reject", summary="Reject a release", tag=TAG,
              roles=DECIDERS, body=DecisionIn, response=ReleaseRequestOut, errors=(401, 403, 404, 409))
async def reject_release_request(request: web.Request) -> web.StreamResponse:
    """Nothing is released; the request is used. The requester may withdraw their own request this way."""
    req = await body(request, DecisionIn)
    out = await _svc(request).reject(principal(request), request.match_info["request_id"], reason=req.reason,
                                     actor=actor(request))
    return json_response(out)
