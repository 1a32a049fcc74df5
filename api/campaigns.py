"""HTTP handlers of campaigns (preview and progressive): validate, call the campaign service, serialise."""

from __future__ import annotations

from aiohttp import web

from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal
from campaigns.schemas import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    OfferOut,
    SkipIn,
    campaign_to_json,
    offer_to_json,
)
from campaigns.service import MANAGERS, READERS, WORKERS

router = Router()
_ID = "{campaign_id:[0-9a-f-]{36}}"
_AGENT = "{agent:[A-Za-z0-9][A-Za-z0-9._@-]{0,63}}"


@router.route("POST", "/v1/campaigns", summary="Create a campaign", tag="campaigns", roles=MANAGERS,
              body=CampaignIn, response=CampaignOut, status=201, errors=(400, 401, 403, 404, 413, 422))
async def create_campaign(request: web.Request) -> web.StreamResponse:
    """A draft campaign over the client's cases matching the selection (inside the caller's scope)."""
    req = await body(request, CampaignIn)
    c = await request.app[CONTAINER].campaigns.create(
        principal(request), client_id=req.client_id, name=req.name, mode=req.mode, batch_id=req.batch_id,
        statuses=tuple(req.statuses), agent=req.agent, busy_retry_s=req.busy_retry_s,
        no_answer_retry_s=req.no_answer_retry_s)
    return json_response(campaign_to_json(c), status=201, headers={"Location": f"/v1/campaigns/{c.id}"})


@router.route("GET", "/v1/campaigns", summary="Campaigns", tag="campaigns", roles=READERS, response=CampaignList,
              errors=(401, 403))
async def list_campaigns(request: web.Request) -> web.StreamResponse:
    """The campaigns of the caller's clients, newest first."""
    items = await request.app[CONTAINER].campaigns.campaigns(principal(request))
    return json_response({"items": [campaign_to_json(c) for c in items]})


@router.route("GET", f"/v1/campaigns/{_ID}", summary="A campaign and its progress", tag="campaigns",
              roles=READERS, response=CampaignOut, errors=(401, 403, 404))
async def get_campaign(request: web.Request) -> web.StreamResponse:
    """Cases left, offered, attempted, contacted, blocked by rule, the next scheduled time, its agents."""
    c, progress = await request.app[CONTAINER].campaigns.get(principal(request), request.match_info["campaign_id"])
    return json_response(campaign_to_json(c, progress))


@router.route("POST", f"/v1/campaigns/{_ID}/{{action:start|pause|stop}}", summary="Start, pause or stop a campaign",
              tag="campaigns", roles=MANAGERS, response=CampaignOut, errors=(401, 403, 404, 409))
async def change_campaign(request: web.Request) -> web.StreamResponse:
    """``start`` (a draft or paused one), ``pause`` (a running one), ``stop`` (for good); 409 otherwise."""
    action = request.match_info["action"]
    assert action in ("start", "pause", "stop")
    c = await request.app[CONTAINER].campaigns.change(principal(request), request.match_info["campaign_id"],
                                                      action)  # type: ignore[arg-type]
    return json_response(campaign_to_json(c))


@router.route("PUT", f"/v1/campaigns/{_ID}/agents/{_AGENT}", summary="An agent joins a campaign", tag="campaigns",
              roles=WORKERS, status=204, errors=(401, 403, 404, 409))
async def join_campaign(request: web.Request) -> web.StreamResponse:
    """The agent itself, its supervisor or an admin adds the agent to the campaign."""
    await request.app[CONTAINER].campaigns.join(principal(request), request.match_info["campaign_id"],
                                                request.match_info["agent"])
    return web.Response(status=204)


@router.route("DELETE", f"/v1/campaigns/{_ID}/agents/{_AGENT}", summary="An agent leaves a campaign",
              tag="campaigns", roles=WORKERS, status=204, errors=(401, 403, 404))
async def leave_campaign(request: web.Request) -> web.StreamResponse:
    """The agent leaves; a case offered to it goes back to the campaign."""
    await request.app[CONTAINER].campaigns.join(principal(request), request.match_info["campaign_id"],
                                                request.match_info["agent"], joined=False)
    return web.Response(status=204)


@router.route("GET", f"/v1/agents/{_AGENT}/next", summary="The next case for an agent (preview)", tag="campaigns",
              roles=WORKERS, response=OfferOut, errors=(401, 403, 404, 409))
async def next_case(request: web.Request) -> web.StreamResponse:
    """Its due callbacks first, then cases nearest their first-call deadline, then the client's priority; the
    number to dial and why. The gate allowed it a moment ago; the dial (``POST /v1/calls``) asks it again.
    409 ``agent-not-available`` for a paused or offline agent; ``offer: null`` when nothing is due."""
    offer = await request.app[CONTAINER].campaigns.next(principal(request), request.match_info["agent"])
    return json_response(offer_to_json(offer))


@router.route("POST", f"/v1/agents/{_AGENT}/next/skip", summary="Skip the offered case", tag="campaigns",
              roles=WORKERS, body=SkipIn, status=204, errors=(400, 401, 403, 404, 413, 422))
async def skip_case(request: web.Request) -> web.StreamResponse:
    """The agent passes, with a reason; the case waits for the campaign's no-answer retry."""
    req = await body(request, SkipIn)
    await request.app[CONTAINER].campaigns.skip(principal(request), request.match_info["agent"], req.reason)
    return web.Response(status=204)
