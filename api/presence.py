"""HTTP handlers of agent presence: validate, call the presence service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from presence.schemas import (
    AgentList,
    AgentQuery,
    AgentStateOut,
    HistoryQuery,
    OccupancyOut,
    OccupancyQuery,
    SpanList,
    StateIn,
    agent_to_json,
    span_to_json,
)
from presence.service import READERS, SETTERS

router = Router()
_AGENT = "/v1/agents/{agent:[A-Za-z0-9][A-Za-z0-9._@-]{0,63}}"


@router.route("GET", "/v1/agents", summary="Agents and their states", tag="agents", roles=READERS,
              query=AgentQuery, response=AgentList, errors=(401, 403, 422))
async def list_agents(request: web.Request) -> web.StreamResponse:
    """Who is in which state since when: an agent sees itself, a supervisor its team, managers and admins
    their clients' agents."""
    q = query(request, AgentQuery)
    views = await request.app[CONTAINER].presence.agents(principal(request), state=q.state, team=q.team)
    return json_response({"items": [agent_to_json(v) for v in views]})


@router.route("GET", "/v1/agents/occupancy", summary="Occupancy report", tag="agents", roles=READERS,
              query=OccupancyQuery, response=OccupancyOut, errors=(401, 403, 422))
async def occupancy(request: web.Request) -> web.StreamResponse:
    """Logged-in, available, ringing, talk (on_call), wrap-up and pause time (by code) per agent or team over
    [from, to), with occupancy = (ringing + on_call + wrap_up) / (those + available)."""
    q = query(request, OccupancyQuery)
    rows = await request.app[CONTAINER].presence.occupancy(principal(request), since=q.since, until=q.until,
                                                           group_by=q.group_by, team=q.team)
    return json_response({"from": q.since.isoformat(), "to": q.until.isoformat(), "group_by": q.group_by,
                          "items": rows})


@router.route("GET", f"{_AGENT}/state", summary="An agent's state", tag="agents", roles=READERS,
              response=AgentStateOut, errors=(401, 403, 404))
async def get_state(request: web.Request) -> web.StreamResponse:
    """The agent's state, since when, its pause code or offline reason, its current call."""
    view = await request.app[CONTAINER].presence.get(principal(request), request.match_info["agent"])
    return json_response(agent_to_json(view))


@router.route("PUT", f"{_AGENT}/state", summary="Set an agent's state", tag="agents", roles=SETTERS,
              body=StateIn, response=AgentStateOut, errors=(400, 401, 403, 404, 413, 422))
async def put_state(request: web.Request) -> web.StreamResponse:
    """``available``, ``paused`` with a pause code, or ``offline`` (log out). An agent sets its own, a supervisor
    its team's, an admin its clients'. The states that follow calls (ringing, on_call, wrap_up) are 422
    ``state-not-settable``; a choice made during a call applies after it, and ends a wrap-up at once."""
    req = await body(request, StateIn)
    view = await request.app[CONTAINER].presence.set_state(principal(request), request.match_info["agent"],
                                                           req.state, req.pause_code)
    return json_response(agent_to_json(view))


@router.route("GET", f"{_AGENT}/history", summary="An agent's state history", tag="agents", roles=READERS,
              query=HistoryQuery, response=SpanList, errors=(401, 403, 404, 422))
async def history(request: web.Request) -> web.StreamResponse:
    """The agent's states, newest first, each with its start and end (the current one has no end)."""
    q = query(request, HistoryQuery)
    spans = await request.app[CONTAINER].presence.history(principal(request), request.match_info["agent"],
                                                          since=q.since, until=q.until, limit=q.limit)
    return json_response({"items": [span_to_json(s) for s in spans]})
