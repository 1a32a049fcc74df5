"""Admin HTTP handlers of outbound webhooks: subscriptions, deliveries, attempts, replay."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import Router, body, json_response, principal, query
from auth.models import Role
from auth.scope import Scope
from hooks.schemas import (
    AttemptList,
    DeliveryPage,
    DeliveryQuery,
    RemovalQuery,
    ReplayIn,
    ReplayOut,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionQuery,
    attempt_json,
    delivery_json,
    subscription_json,
)
from hooks.service import HookService

router = Router()
# an integration (a bank's case system) manages the subscriptions of its one client
ADMIN = (Role.ADMIN, Role.INTEGRATION)


def _svc(request: web.Request) -> HookService:
    return request.app[CONTAINER].hooks


def _scope(request: web.Request) -> Scope:
    return Scope.of(principal(request))


@router.route("POST", "/v1/hooks/subscriptions", summary="Create a webhook subscription", tag="hooks",
              roles=ADMIN, body=SubscriptionIn, response=SubscriptionOut, status=201, errors=(401, 403, 422),
              links={name: {"operationId": f"hooks.{op}", "parameters": {"sub_id": "$response.body#/id"}}
                     for name, op in (("GetSubscription", "get_subscription"),
                                      ("PatchSubscription", "patch_subscription"),
                                      ("DeleteSubscription", "delete_subscription"))})
async def create_subscription(request: web.Request) -> web.StreamResponse:
    """The signing secret is in this answer only; private and loopback targets are refused unless allowed.
    Audited (``hook_subscription.created``, never the secret)."""
    req = await body(request, SubscriptionIn)
    sub, secret = await _svc(request).create(_scope(request), url=req.url, event_types=req.event_types,
                                             description=req.description, actor=actor(request), client=req.client,
                                             reason=req.reason)
    return json_response(subscription_json(sub, secret), status=201)


@router.route("GET", "/v1/hooks/subscriptions", summary="List subscriptions", tag="hooks", roles=ADMIN,
              query=SubscriptionQuery, response=SubscriptionList, errors=(401, 403, 422))
async def list_subscriptions(request: web.Request) -> web.StreamResponse:
    """The caller's subscriptions (without secrets), oldest first; paged by ``next_cursor``."""
    q = query(request, SubscriptionQuery)
    rows, nxt = await _svc(request).subscriptions(_scope(request), cursor=q.cursor, limit=q.limit)
    return json_response({"items": [subscription_json(s) for s in rows], "next_cursor": nxt})


@router.route("GET", "/v1/hooks/subscriptions/{sub_id}", summary="One subscription", tag="hooks", roles=ADMIN,
              response=SubscriptionOut, errors=(401, 403, 404))
async def get_subscription(request: web.Request) -> web.StreamResponse:
    """One subscription (without secrets)."""
    return json_response(subscription_json(await _svc(request).get(_scope(request), request.match_info["sub_id"])))


@router.route("PATCH", "/v1/hooks/subscriptions/{sub_id}", summary="Change a subscription", tag="hooks",
              roles=ADMIN, body=SubscriptionPatch, response=SubscriptionOut, errors=(401, 403, 404, 422))
async def patch_subscription(request: web.Request) -> web.StreamResponse:
    """URL, event types, active (re-activating re-queues parked deliveries), secret rotation; each change is
    audited (``hook_subscription.updated``, before and after, never a secret)."""
    req = await body(request, SubscriptionPatch)
    sub, secret = await _svc(request).update(
        _scope(request), request.match_info["sub_id"], actor=actor(request), url=req.url,
        event_types=req.event_types, description=req.description, active=req.active,
        rotate_secret=req.rotate_secret, drop_old_secrets=req.drop_old_secrets, reason=req.reason)
    return json_response(subscription_json(sub, secret))


@router.route("DELETE", "/v1/hooks/subscriptions/{sub_id}", summary="Delete a subscription", tag="hooks",
              roles=ADMIN, query=RemovalQuery, status=204, errors=(401, 403, 404))
async def delete_subscription(request: web.Request) -> web.StreamResponse:
    """It receives nothing more and is no longer listed or changeable (its pending deliveries are parked as
    ``disabled``, its secrets dropped); its delivery history stays (``GET /v1/hooks/deliveries?subscription_id=``)
    and is never replayed. Audited (``hook_subscription.deleted``, with ``?reason=``)."""
    q = query(request, RemovalQuery)
    await _svc(request).delete(_scope(request), request.match_info["sub_id"], actor=actor(request), reason=q.reason)
    return web.Response(status=204)


@router.route("GET", "/v1/hooks/deliveries", summary="List deliveries (state=dead: dead letters)", tag="hooks",
              roles=ADMIN, query=DeliveryQuery, response=DeliveryPage, errors=(401, 403, 422))
async def list_deliveries(request: web.Request) -> web.StreamResponse:
    """Newest first; page with ``before_id``."""
    q = query(request, DeliveryQuery)
    rows = await _svc(request).deliveries(_scope(request), subscription_id=q.subscription_id, state=q.state,
                                          event_type=q.event_type, before_id=q.before_id, limit=q.limit)
    return json_response({"items": [delivery_json(d) for d in rows],
                          "next_before_id": rows[-1].id if len(rows) == q.limit else None})


@router.route("GET", "/v1/hooks/deliveries/{delivery_id}/attempts", summary="Attempts of a delivery",
              tag="hooks", roles=ADMIN, response=AttemptList, errors=(401, 403, 404))
async def list_attempts(request: web.Request) -> web.StreamResponse:
    """Every attempt: status, duration, response excerpt, error."""
    try:
        delivery_id = int(request.match_info["delivery_id"])
    except ValueError:
        delivery_id = -1
    rows = await _svc(request).attempts(_scope(request), delivery_id)
    return json_response({"items": [attempt_json(a) for a in rows]})


@router.route("POST", "/v1/hooks/replay", summary="Replay dead or disabled deliveries", tag="hooks",
              roles=ADMIN, body=ReplayIn, response=ReplayOut, errors=(401, 403, 422))
async def replay(request: web.Request) -> web.StreamResponse:
    """Queue them again with the same ``webhook-id``."""
    req = await body(request, ReplayIn)
    count = await _svc(request).replay(_scope(request), req.delivery_ids, subscription_id=req.subscription_id)
    return json_response({"queued": count})
