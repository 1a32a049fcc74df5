"""HTTP handlers of supervisor monitoring (listen / whisper / barge): validate, call the service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal
from auth.models import Role
from monitor.schemas import MonitorChange, MonitorRequest, MonitorSessionList, MonitorSessionOut, session_to_json

router = Router()
MONITORS = (Role.SUPERVISOR, Role.MANAGER)
_SESSION = "/v1/calls/{call_id}/monitor/{session_id}"


@router.route("POST", "/v1/calls/{call_id}/monitor", summary="Listen to, whisper into or barge into a live call",
              tag="calls", roles=MONITORS, body=MonitorRequest, response=MonitorSessionOut, status=202,
              errors=(401, 403, 404, 409, 422, 503))
async def start_monitor(request: web.Request) -> web.StreamResponse:
    """The caller's own phone (its ``sip_user``) rings; on answer it joins the call's agent leg in ``mode``.

    Supervisors of the call's team and client, and managers of its client, only; the session's steps arrive as
    ``call.monitor_*`` events (never shown to the agent). 409 ``call-not-live`` before the agent answered.
    """
    req = await body(request, MonitorRequest)
    session = await request.app[CONTAINER].monitor.start(principal(request), actor(request),
                                                         request.match_info["call_id"], req.mode)
    return json_response(session_to_json(session), status=202,
                         headers={"Location": f"/v1/calls/{session.call_id}/monitor/{session.id}"})


@router.route("GET", "/v1/calls/{call_id}/monitor", summary="The monitoring sessions of a call", tag="calls",
              roles=MONITORS, response=MonitorSessionList, errors=(401, 403, 404))
async def list_monitor(request: web.Request) -> web.StreamResponse:
    """Every monitoring session of the call, oldest first."""
    rows = await request.app[CONTAINER].monitor.sessions(principal(request), request.match_info["call_id"])
    return json_response({"items": [session_to_json(r) for r in rows]})


@router.route("PATCH", _SESSION, summary="Change a monitoring session's mode", tag="calls", roles=MONITORS,
              body=MonitorChange, response=MonitorSessionOut, errors=(401, 403, 404, 409, 422, 503))
async def change_monitor(request: web.Request) -> web.StreamResponse:
    """Switch the caller's own active session between listen, whisper and barge; the phone stays connected."""
    req = await body(request, MonitorChange)
    session = await request.app[CONTAINER].monitor.change_mode(
        principal(request), actor(request), request.match_info["call_id"], request.match_info["session_id"],
        req.mode)
    return json_response(session_to_json(session))


@router.route("DELETE", _SESSION, summary="End a monitoring session", tag="calls", roles=MONITORS,
              response=MonitorSessionOut, errors=(401, 403, 404))
async def stop_monitor(request: web.Request) -> web.StreamResponse:
    """Hang up the supervisor's leg (its owner, or a manager of the call's client); the call goes on."""
    session = await request.app[CONTAINER].monitor.stop(principal(request), actor(request),
                                                        request.match_info["call_id"],
                                                        request.match_info["session_id"])
    return json_response(session_to_json(session))
