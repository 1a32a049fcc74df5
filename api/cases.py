"""HTTP handlers of cases: upsert and bulk import, holds, status, assignment, numbers, agreed windows,
dispositions, the contact log and evidence. Validate, call the service, serialise."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.recordings import requester
from api.routing import Router, body, json_response, principal, query
from auth.models import Role
from cases.export import prepare_export, stream_zip
from cases.rows import CaseIn
from cases.schemas import (
    AssignmentIn,
    BulkIn,
    BulkOut,
    CaseList,
    CaseOut,
    CasePut,
    CaseQuery,
    DispositionIn,
    DispositionOut,
    EvidenceQuery,
    HoldIn,
    NumberStatusIn,
    ReleaseQuery,
    StatusIn,
    WindowIn,
    WindowList,
    WindowOut,
    case_json,
    contact_json,
    disposition_json,
    hold_json,
    window_json,
)
from cases.service import CaseService
from core.phone import normalize
from recordings.export import ExportRecordings

log = logging.getLogger(__name__)
router = Router()
WRITERS = (Role.INTEGRATION, Role.ADMIN)
HOLDERS = (Role.INTEGRATION, Role.ADMIN, Role.SUPERVISOR)
READERS = (Role.INTEGRATION, Role.ADMIN, Role.SUPERVISOR, Role.MANAGER, Role.QA, Role.AGENT)
EVIDENCE = (Role.INTEGRATION, Role.ADMIN, Role.SUPERVISOR, Role.MANAGER, Role.QA)
DISPOSERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
WINDOWS = (Role.AGENT, Role.SUPERVISOR, Role.INTEGRATION, Role.ADMIN)
# path parameters: a client id as the compliance policies take it; an external id as CaseIn takes it, except
# "bulk", which is the bulk import's path
CLIENT = "{client:[A-Za-z0-9][A-Za-z0-9._-]{0,63}}"
EXTERNAL = "{external_id:(?!bulk$)[^\\s/\\\\?#%]{1,64}}"


def _svc(request: web.Request) -> CaseService:
    return request.app[CONTAINER].cases


async def _full(request: web.Request, case_id: str, *, read: bool = False) -> dict[str, Any]:
    """The case as the answer shows it; ``read``: the request is a read of it (audited ``case.read``)."""
    svc = _svc(request)
    if read:
        case, cs, holds = await svc.read(principal(request), case_id, actor=actor(request))
    else:
        case, cs, holds = await svc.get(principal(request), case_id)
    return case_json(case, cs, holds)


@router.route("PUT", f"/v1/clients/{CLIENT}/cases/{EXTERNAL}", summary="Create or update a case", tag="cases",
              roles=WRITERS, body=CasePut, response=CaseOut, also=(201,), errors=(401, 403, 422),
              links={name: {"operationId": f"cases.{op}", "parameters": {"case_id": "$response.body#/id"}}
                     for name, op in (("GetCase", "get_case"), ("GetWindows", "get_windows"),
                                      ("PutHold", "post_hold"), ("GetContacts", "get_contacts"))})
async def put_case(request: web.Request) -> web.StreamResponse:
    """Upsert by (client, external id); an unchanged case is a no-op (no event). 201 when created.

    A dispute hold also holds every recording of the case (same transaction). Holds the import lifts are
    audited (``hold.released``); an admin's import never lifts a legal hard stop nor revives a do-not-call
    number (only the case system's own, or two people: ``POST /v1/release-requests``).
    """
    data = await body(request, CaseIn, extra={"external_id": request.match_info["external_id"]})
    result = await _svc(request).upsert(principal(request), client_id=request.match_info["client"], data=data,
                                        actor=actor(request))
    doc = await _full(request, result.case_id)
    doc["result"] = result.result
    return json_response(doc, status=201 if result.result == "created" else 200,
                         headers={"Location": f"/v1/cases/{result.case_id}"})


@router.route("POST", f"/v1/clients/{CLIENT}/cases/bulk", summary="Import up to 10,000 cases", tag="cases",
              roles=WRITERS, body=BulkIn, response=BulkOut, errors=(401, 403, 413, 422))
async def bulk_cases(request: web.Request) -> web.StreamResponse:
    """Each item is validated and upserted on its own: one result per item, bad items never undo good ones."""
    req = await body(request, BulkIn, bulk=True)
    results = await _svc(request).bulk_upsert(principal(request), client_id=request.match_info["client"],
                                              items=req.cases, batch=req.batch, actor=actor(request))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
    return json_response({"counts": counts, "results": [
        {"index": r.index, "external_id": r.external_id, "result": r.result, "case_id": r.case_id,
         "errors": r.errors} for r in results]})


@router.route("GET", f"/v1/clients/{CLIENT}/cases/{EXTERNAL}", summary="A case by external id", tag="cases",
              roles=READERS, response=CaseOut, errors=(401, 404))
async def get_case_by_external(request: web.Request) -> web.StreamResponse:
    """The case with its numbers and active holds (a read of personal data: audited, ``case.read``)."""
    case = await _svc(request).find(principal(request), client_id=request.match_info["client"],
                                    external_id=request.match_info["external_id"])
    return json_response(await _full(request, case.id, read=True))


@router.route("GET", "/v1/cases", summary="List cases", tag="cases", roles=READERS, query=CaseQuery,
              response=CaseList, errors=(401, 422))
async def list_cases(request: web.Request) -> web.StreamResponse:
    """The cases the caller may see, newest first: an agent its assigned ones (``agent=me``), a team's
    supervisor the team's, others their clients'. Cursor pagination via ``next_cursor``. A read of personal
    data: audited (``case.listed``, one entry per client in the page, naming its cases)."""
    rows, nxt = await _svc(request).page(principal(request), query(request, CaseQuery), actor=actor(request))
    return json_response({"items": [case_json(c, cs, hs) for c, cs, hs in rows], "next_cursor": nxt})


@router.route("GET", "/v1/cases/{case_id}", summary="A case", tag="cases", roles=READERS, response=CaseOut,
              errors=(401, 404))
async def get_case(request: web.Request) -> web.StreamResponse:
    """The case with its numbers and active holds (a read of personal data: audited, ``case.read``)."""
    return json_response(await _full(request, request.match_info["case_id"], read=True))


@router.route("POST", "/v1/cases/{case_id}/holds", summary="Put a hold on a case", tag="cases", roles=HOLDERS,
              body=HoldIn, response=CaseOut, also=(201,), errors=(401, 403, 404, 422))
async def post_hold(request: web.Request) -> web.StreamResponse:
    """Takes effect for every dial not yet originated. 201 when new, 200 when that reason was already held.

    A ``dispute`` also puts every recording of the case under legal hold, in the same transaction. Set by
    the case system (an integration or an admin), a hold with a legal reason (deceased, suspected_fraud,
    attorney, bankruptcy, dispute, cease_request) is a hard stop no single person lifts. Audited
    (``hold.applied``, ``note`` as the reason).
    """
    req = await body(request, HoldIn)
    p = principal(request)
    source = "case_system" if p.role in WRITERS else "agent"
    hold = await _svc(request).hold(p, request.match_info["case_id"], reason=req.reason, source=source,
                                    note=req.note, actor=actor(request))
    return json_response(await _full(request, request.match_info["case_id"]), status=201 if hold else 200)


@router.route("DELETE", "/v1/cases/{case_id}/holds/{reason}", summary="Release a hold", tag="cases",
              roles=HOLDERS, query=ReleaseQuery, response=CaseOut, errors=(401, 403, 404, 409))
async def delete_hold(request: web.Request) -> web.StreamResponse:
    """Release the active holds with that reason (idempotent; audited as ``hold.released`` with ``?why=``).

    A legal hard stop the case system set (deceased, suspected_fraud, attorney, bankruptcy, dispute,
    cease_request) is lifted only by the case system (its integration token, or its import) or by two
    people: for anyone else this is 409 ``two-person-rule`` and nothing changes; its ``details`` name the
    route (``POST /v1/release-requests``) and the body (``details.request``, add a ``reason``) to ask with.
    """
    q = query(request, ReleaseQuery)
    released = await _svc(request).release(principal(request), request.match_info["case_id"],
                                           reason=request.match_info["reason"], actor=actor(request), why=q.why)
    doc = await _full(request, request.match_info["case_id"])
    doc["released"] = [hold_json(h) for h in released]
    return json_response(doc)


@router.route("POST", "/v1/cases/{case_id}/status", summary="Close, mark paid or reopen", tag="cases",
              roles=WRITERS, body=StatusIn, response=CaseOut, errors=(401, 403, 404, 422))
async def post_status(request: web.Request) -> web.StreamResponse:
    """Set the case status (holds keep a reopened case on hold); audited (``case.status_changed``)."""
    req = await body(request, StatusIn)
    await _svc(request).set_status(principal(request), request.match_info["case_id"], req.status,
                                   actor=actor(request), reason=req.reason)
    return json_response(await _full(request, request.match_info["case_id"]))


@router.route("PUT", "/v1/cases/{case_id}/assignment", summary="Assign a case", tag="cases",
              roles=(*WRITERS, Role.SUPERVISOR), body=AssignmentIn, response=CaseOut, errors=(401, 403, 404, 422))
async def put_assignment(request: web.Request) -> web.StreamResponse:
    """Assign to an agent and team; audited (``case.assigned``)."""
    req = await body(request, AssignmentIn)
    await _svc(request).assign(principal(request), request.match_info["case_id"], agent=req.agent, team=req.team,
                               actor=actor(request), reason=req.reason)
    return json_response(await _full(request, request.match_info["case_id"]))


@router.route("POST", "/v1/cases/{case_id}/numbers", summary="Change a number's status", tag="cases",
              roles=HOLDERS, body=NumberStatusIn, response=CaseOut, errors=(401, 403, 404, 409, 422))
async def post_number(request: web.Request) -> web.StreamResponse:
    """Status (valid, invalid, do_not_call), third-party objection, stated zone; audited
    (``case_number.changed``).

    A ``do_not_call`` number goes back to ``valid`` only by the case system (an integration) or by two
    people: for anyone else this is 409 ``two-person-rule`` naming ``POST /v1/release-requests``.
    """
    req = await body(request, NumberStatusIn)
    c = request.app[CONTAINER]
    source = "case_system" if principal(request).role in WRITERS else "agent"
    number = normalize(req.number, c.settings.dialer.default_region)
    await c.cases.number_status(principal(request), request.match_info["case_id"], number=number,
                                status=req.status, source=source, third_party_objected=req.third_party_objected,
                                zone=req.zone, actor=actor(request), reason=req.reason)
    return json_response(await _full(request, request.match_info["case_id"]))


@router.route("POST", "/v1/cases/{case_id}/windows", summary="Record an agreed calling window", tag="cases",
              roles=WINDOWS, body=WindowIn, response=WindowOut, status=201, errors=(401, 403, 404, 409, 422))
async def post_window(request: web.Request) -> web.StreamResponse:
    """A window agreed with the debtor or third party, for one number or the case."""
    req = await body(request, WindowIn)
    c = request.app[CONTAINER]
    number = normalize(req.number, c.settings.dialer.default_region) if req.number else None
    window = await c.cases.add_window(
        principal(request), request.match_info["case_id"], scope=req.scope, number=number, weekdays=req.weekdays,
        start=req.start, end=req.end, zone=req.zone, expires_at=req.expires_at, call_id=req.agreed_on_call_id)
    return json_response(window_json(window), status=201)


@router.route("GET", "/v1/cases/{case_id}/windows", summary="Agreed windows", tag="cases", roles=READERS,
              response=WindowList, errors=(401, 404))
async def get_windows(request: web.Request) -> web.StreamResponse:
    """Windows not revoked and not expired."""
    windows = await _svc(request).windows(principal(request), request.match_info["case_id"])
    return json_response({"items": [window_json(w) for w in windows]})


@router.route("DELETE", "/v1/cases/{case_id}/windows/{window_id}", summary="Revoke an agreed window",
              tag="cases", roles=WINDOWS, response=WindowOut, errors=(401, 403, 404))
async def delete_window(request: web.Request) -> web.StreamResponse:
    """Revoke (kept for history)."""
    w = await _svc(request).revoke_window(principal(request), request.match_info["case_id"],
                                          request.match_info["window_id"])
    return json_response(window_json(w))


@router.route("POST", "/v1/calls/{call_id}/disposition", summary="Record a call's outcome", tag="cases",
              roles=DISPOSERS, body=DispositionIn, response=DispositionOut, status=201,
              errors=(401, 403, 404, 409, 422))
async def post_disposition(request: web.Request) -> web.StreamResponse:
    """By the call's agent (or a supervisor); once per call. Dispute, deceased, fraud hold the case."""
    req = await body(request, DispositionIn)
    disp, holds = await _svc(request).dispose(principal(request), request.match_info["call_id"], req)
    return json_response(disposition_json(disp, holds), status=201)


@router.route("GET", "/v1/cases/{case_id}/contacts", summary="The case's contact log", tag="cases",
              roles=READERS, errors=(401, 404))
async def get_contacts(request: web.Request) -> web.StreamResponse:
    """Every contact attempt, oldest first (immutable: time, agent, number, outcome, recording, SHA-256).
    A read of personal data: audited (``case.contacts_read``).

    An agent reads the history of a case while it is assigned to it (404 otherwise, as for any case it may
    not see), every agent's attempts included; of the recordings listed it may hear only those of its own
    calls, when ``recordings.agents_may_listen_own`` allows (``GET /v1/recordings/{recording_id}/audio``
    decides, and logs every listen)."""
    rows = await _svc(request).contacts(principal(request), request.match_info["case_id"], actor=actor(request))
    return json_response({"items": [contact_json(r) for r in rows]})


@router.route("GET", "/v1/cases/{case_id}/evidence", summary="Evidence of valid collection", tag="cases",
              roles=EVIDENCE, query=EvidenceQuery, errors=(401, 403, 404, 409, 503))
async def get_evidence(request: web.Request) -> web.StreamResponse:
    """Two valid collections 30+ days apart and since when 3 months passed; ``?format=zip`` exports them.

    The zip streams (chunked, bounded memory) once every recording in it is authorised and logged in
    the recordings access log as a download; refusals and failures before the first byte get the one
    error shape, a failure after it aborts the response (the archive is then visibly truncated).
    Audited: ``case.evidence_read`` (JSON) or ``case.evidence_exported`` (zip), once per request.
    """
    q = query(request, EvidenceQuery)
    c = request.app[CONTAINER]
    case_id = request.match_info["case_id"]
    ev, rows = await c.cases.evidence(principal(request), case_id, actor=actor(request), export=q.format == "zip")
    if q.format == "json":
        return json_response(ev.to_json())
    source = None
    if any(r.recording_id for r in ev.valid_collections):
        source = ExportRecordings(c.recordings_feature().service, requester(request),
                                  purpose=f"evidence export of case {case_id}")
    plan = await prepare_export(ev, rows, source)
    async with stream_zip(plan, source) as chunks:
        first = await anext(chunks, b"")  # a failure up to here still gets the JSON error shape
        resp = web.StreamResponse(headers={
            "Content-Type": "application/zip", "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="evidence-{case_id}.zip"'})
        await resp.prepare(request)
        try:
            await resp.write(first)
            async for chunk in chunks:
                await resp.write(chunk)
        except ConnectionResetError:
            log.info("evidence export of case %s: the client went away", case_id)
            return resp
        await resp.write_eof()
    return resp
