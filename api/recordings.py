"""HTTP handlers of recordings and QA: validate, call the recordings feature, serialise.

Read endpoints accept every role at the router and let the service decide, so that denials are
written to the access log too.
"""

from __future__ import annotations

from aiohttp import web

from api.auth import request_id
from api.keys import CONTAINER
from api.routing import Router, body, error_response, json_response, principal, query
from auth.models import Role
from core.pagination import decode_cursor, encode_cursor
from recordings.runtime import RecordingsFeature
from recordings.schemas import (
    AccessList,
    AccessQuery,
    AudioQuery,
    GapList,
    GapQuery,
    PauseIn,
    ProbeOut,
    RecordingList,
    RecordingOut,
    RecordingQuery,
    RetryIn,
    ReviewIn,
    ReviewList,
    ReviewOut,
    SampleOut,
    SampleRequest,
    access_out,
    gap_out,
    recording_out,
    review_out,
)
from recordings.service import Requester
from recordings.storage import RangeNotSatisfiable

router = Router()
TAG = "recordings"
OVERSEERS = (Role.QA, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
# a recording id is never one of the static names beside it
RECORDING = "{recording_id:(?!(?:gaps|access-log|probe)$)[^/]+}"


def feature(request: web.Request) -> RecordingsFeature:
    """The recordings feature of this process (503 when it is not running)."""
    return request.app[CONTAINER].recordings_feature()


def requester(request: web.Request) -> Requester:
    """The caller, their address and the request id, for the access log and the audit trail."""
    return Requester(principal(request), request.remote, request_id(request))


# static paths first: aiohttp matches in registration order, and {recording_id} would swallow them
@router.route("GET", "/v1/recordings/gaps", summary="Completeness gaps", tag=TAG, roles=OVERSEERS,
              query=GapQuery, response=GapList, errors=(401, 403))
async def list_gaps(request: web.Request) -> web.StreamResponse:
    """Answered calls without a stored recording after ``missing_after_s``, files without a call, and
    objects in the store without a recording row (``store-orphan``, found by a resumable scan)."""
    q = query(request, GapQuery)
    gaps = await feature(request).reconciler.gaps(principal(request), open_only=not q.include_resolved,
                                                  kind=q.kind)
    return json_response(GapList(items=[gap_out(g) for g in gaps]))


@router.route("GET", "/v1/recordings/access-log", summary="Recording access log", tag=TAG, roles=OVERSEERS,
              query=AccessQuery, response=AccessList, errors=(401, 403, 404, 422))
async def access_log(request: web.Request) -> web.StreamResponse:
    """Who read which recording's metadata or audio, when, from where, and the result.

    Admins read the whole log of their scope. QA, supervisors and managers read the log of one recording they may
    see: ``recording_id`` is required for them (422 ``recording-id-required``), a recording outside their scope is
    404 as when reading it, and the read itself is logged (action ``access_log``).
    """
    q = query(request, AccessQuery)
    rows = await feature(request).service.access_log(requester(request), recording_id=q.recording_id,
                                                     user_id=q.user, before_id=q.before, limit=q.limit)
    nxt = rows[-1].id if len(rows) == q.limit else None
    return json_response(AccessList(items=[access_out(r) for r in rows], next_before=nxt))


@router.route("POST", "/v1/recordings/probe", summary="Run the recording probe", tag=TAG,
              roles=(Role.SUPERVISOR, Role.ADMIN), response=ProbeOut, errors=(401, 403, 503))
async def run_probe(request: web.Request) -> web.StreamResponse:
    """Place a synthetic call, wait for its stored recording, check both tones on their channels."""
    return json_response(await feature(request).prober.run())


@router.route("GET", "/v1/recordings/probe", summary="Latest recording probe", tag=TAG, roles=OVERSEERS,
              errors=(401, 403))
async def latest_probe(request: web.Request) -> web.StreamResponse:
    """The latest probe result (``null`` if none ran)."""
    return json_response({"latest": feature(request).prober.latest})


@router.route("GET", "/v1/recordings", summary="Find recordings", tag=TAG, query=RecordingQuery,
              response=RecordingList, errors=(401, 403, 422))
async def list_recordings(request: web.Request) -> web.StreamResponse:
    """Filter by agent, team, client, case, time range, duration, outcome; newest first; cursor pages."""
    q = query(request, RecordingQuery)
    rows = await feature(request).qa.search(requester(request), q.to_filter(q.state),
                                            cursor=decode_cursor(q.cursor) if q.cursor else None, limit=q.limit)
    nxt = encode_cursor(rows[-1].started_at, rows[-1].id) if len(rows) == q.limit else None
    return json_response(RecordingList(items=[recording_out(r) for r in rows], next_cursor=nxt))


@router.route("GET", f"/v1/recordings/{RECORDING}", summary="One recording", tag=TAG, response=RecordingOut,
              errors=(401, 403, 404))
async def get_recording(request: web.Request) -> web.StreamResponse:
    """Metadata of a recording (logged in the access log)."""
    rec = await feature(request).service.get(requester(request), request.match_info["recording_id"])
    return json_response(recording_out(rec))


@router.route("GET", f"/v1/recordings/{RECORDING}/audio", summary="Stream a recording", tag=TAG,
              query=AudioQuery, errors=(401, 403, 404, 409, 416, 503), content_type="audio/ogg")
async def get_audio(request: web.Request) -> web.StreamResponse:
    """The audio, with HTTP Range (206 + Content-Range; 416 outside) so a browser can seek.

    ``?download=true`` adds ``Content-Disposition: attachment`` and is logged as a download.
    """
    q = query(request, AudioQuery)
    f = feature(request)
    try:
        rec, rng, partial = await f.service.open_audio(
            requester(request), request.match_info["recording_id"], request.headers.get("Range"),
            download=q.download)
    except RangeNotSatisfiable as exc:
        total = exc.details.get("total_size")
        return error_response(request, exc, headers={"Content-Range": f"bytes */{total}", "Accept-Ranges": "bytes"}
                              if total is not None else None)
    async with rng:
        resp = web.StreamResponse(status=206 if partial else 200)
        resp.content_type = rec.content_type or rng.content_type
        resp.content_length = rng.length
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["Cache-Control"] = "private, no-store"
        if rec.sha256:
            resp.headers["ETag"] = f'"{rec.sha256}"'
        if partial:
            resp.headers["Content-Range"] = rng.content_range
        if q.download:
            ext = (rec.key or "").rsplit(".", 1)[-1]
            resp.headers["Content-Disposition"] = f'attachment; filename="{rec.call_id}.{ext}"'
        await resp.prepare(request)
        async for chunk in rng:
            await resp.write(chunk)
        await resp.write_eof()
    return resp


@router.route("DELETE", f"/v1/recordings/{RECORDING}", summary="Delete an expired recording", tag=TAG,
              response=RecordingOut, errors=(401, 403, 404, 409, 503))
async def delete_recording(request: web.Request) -> web.StreamResponse:
    """Admins only; refused with 409 ``retention-active`` before retention ends or under legal hold."""
    rec = await feature(request).retention.delete(requester(request), request.match_info["recording_id"])
    return json_response(recording_out(rec))


@router.route("PUT", f"/v1/recordings/{RECORDING}/legal-hold", summary="Put a legal hold", tag=TAG,
              response=RecordingOut, errors=(401, 403, 404))
async def put_hold(request: web.Request) -> web.StreamResponse:
    """Hold the recording beyond retention (one person may; audited as ``recording.legal_hold_set``; pushed
    to the store's Object Lock legal hold)."""
    rec = await feature(request).retention.set_legal_hold(requester(request), request.match_info["recording_id"],
                                                          True)
    return json_response(recording_out(rec))


@router.route("DELETE", f"/v1/recordings/{RECORDING}/legal-hold", summary="Release a legal hold (two people)",
              tag=TAG, response=RecordingOut, errors=(401, 403, 404, 409))
async def delete_hold(request: web.Request) -> web.StreamResponse:
    """409 ``two-person-rule`` for a held recording, and nothing changes (200 and no change for one not
    held): a legal hold is released by two different people, each with a reason. Ask with ``POST /v1/release-requests``
    (``{"kind": "recording_legal_hold", "recording_id", "reason"}``; the error's ``details.request`` is that
    body without the reason); a manager or admin of the recording's client approves it with
    ``POST /v1/release-requests/{request_id}/approve``."""
    rec = await feature(request).retention.set_legal_hold(requester(request), request.match_info["recording_id"],
                                                          False)
    return json_response(recording_out(rec))


@router.route("POST", f"/v1/recordings/{RECORDING}/reviews", summary="Add a QA review", tag=TAG, body=ReviewIn,
              response=ReviewOut, status=201, errors=(401, 403, 404, 422))
async def add_review(request: web.Request) -> web.StreamResponse:
    """Score 0-100, checklist items and notes; the reviewer is the caller."""
    req = await body(request, ReviewIn)
    review = await feature(request).qa.add_review(
        requester(request), request.match_info["recording_id"], score=req.score,
        checklist=[i.model_dump() for i in req.checklist], notes=req.notes)
    return json_response(review_out(review), status=201)


@router.route("GET", f"/v1/recordings/{RECORDING}/reviews", summary="QA reviews of a recording", tag=TAG,
              response=ReviewList, errors=(401, 403, 404))
async def list_reviews(request: web.Request) -> web.StreamResponse:
    """Every review of the recording, oldest first."""
    rows = await feature(request).qa.reviews(requester(request), request.match_info["recording_id"])
    return json_response(ReviewList(items=[review_out(r) for r in rows]))


@router.route("POST", f"/v1/recordings/{RECORDING}/pause", summary="Pause recording (card payment)", tag=TAG,
              body=PauseIn, errors=(401, 403, 404, 409, 503))
async def pause(request: web.Request) -> web.StreamResponse:
    """MixMonitorMute on, if the client's policy allows it; the interval is stored with who and why."""
    req = await body(request, PauseIn)
    row = await feature(request).service.pause(requester(request), request.match_info["recording_id"], req.reason)
    return json_response({"id": row.id, "paused_at": row.paused_at.isoformat(), "reason": row.reason})


@router.route("POST", f"/v1/recordings/{RECORDING}/resume", summary="Resume recording", tag=TAG,
              errors=(401, 403, 404, 409, 503))
async def resume(request: web.Request) -> web.StreamResponse:
    """MixMonitorMute off; closes the paused interval."""
    row = await feature(request).service.resume(requester(request), request.match_info["recording_id"])
    return json_response({"id": row.id, "paused_at": row.paused_at.isoformat(),
                          "resumed_at": row.resumed_at.isoformat() if row.resumed_at else None})


@router.route("POST", f"/v1/recordings/{RECORDING}/retry", summary="Retry a failed ingest", tag=TAG,
              body=RetryIn, response=RecordingOut, errors=(401, 403, 404, 409, 422, 503))
async def retry(request: web.Request) -> web.StreamResponse:
    """Supervisors and admins: a ``failed`` recording goes back to ``pending`` with its attempts reset and
    the next attempt due now, and the spool is scanned at once. Fix the cause first (the spool files a
    failed ingest keeps are what is retried). Who asked and the required ``reason`` go to the access log
    (action ``retry``). 409 ``recording-not-failed`` for any other state; nothing changes on an error.
    ``GET /v1/recordings?state=failed`` lists the candidates with their ``last_error``."""
    req = await body(request, RetryIn)
    rec = await feature(request).service.retry(requester(request), request.match_info["recording_id"], req.reason)
    return json_response(recording_out(rec))


@router.route("POST", "/v1/qa/samples", summary="Stratified QA sample", tag="qa", roles=OVERSEERS,
              body=SampleRequest, response=SampleOut, errors=(401, 403, 422))
async def sample(request: web.Request) -> web.StreamResponse:
    """``per_agent: N`` or ``percent: P`` of the stored recordings matching ``filters``, per agent;
    the same ``seed`` over the same data gives the same sample."""
    req = await body(request, SampleRequest)
    rows = await feature(request).qa.sample(requester(request), req.filters.to_filter(), seed=req.seed,
                                            per_agent=req.per_agent, percent=req.percent)
    return json_response(SampleOut(seed=req.seed, items=[recording_out(r) for r in rows]))
