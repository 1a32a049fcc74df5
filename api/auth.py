"""HTTP handlers of identity: EventSource tickets, and the admin API of users and tokens."""

from __future__ import annotations

from aiohttp import web

from api import access
from api.keys import CONTAINER
from api.routing import ALL_ROLES, Router, body, json_response, principal, query
from audit.service import Actor
from auth.models import Role
from auth.schemas import (
    IssuedToken,
    RevokeIn,
    TicketOut,
    TokenIn,
    TokenList,
    TokenOut,
    TokenQuery,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
    UserQuery,
)

router = Router()
ADMIN = (Role.ADMIN,)


def scope(request: web.Request) -> frozenset[str] | None:
    """The clients an admin manages users of: None for a global admin."""
    who = principal(request)
    return None if who.is_global else who.clients


def request_id(request: web.Request) -> str | None:
    """The request's id (the caller's sane ``X-Request-Id``, else a new one: api/access.py), kept in the audit
    trail."""
    return access.request_id(request)


def actor(request: web.Request) -> Actor:
    """The audited actor of a request: its principal, address and request id."""
    who = principal(request)
    return Actor(user_id=who.user_id, role=str(who.role), address=(request.remote or None),
                 request_id=request_id(request))


@router.route("POST", "/v1/events/tickets", summary="A single-use ticket for the event stream", tag="events",
              roles=ALL_ROLES, response=TicketOut, status=201, errors=(401, 429))
async def create_ticket(request: web.Request) -> web.StreamResponse:
    """A short-lived (``auth.ticket_ttl_s``), single-use ticket for ``GET /v1/events?ticket=``.

    Browsers' EventSource cannot send an Authorization header; the long-lived token never goes in a URL.
    The ticket carries the caller's token: revoking it ends the stream.
    """
    out = await request.app[CONTAINER].auth.issue_ticket(principal(request))
    return json_response(out, status=201)


@router.route("GET", "/v1/users", summary="List users", tag="users", roles=ADMIN, query=UserQuery,
              response=UserList, errors=(401, 403, 422))
async def list_users(request: web.Request) -> web.StreamResponse:
    """Users by id, filtered by role, client, team or active; paged by ``next_cursor`` (the last id listed)."""
    return json_response(await request.app[CONTAINER].users.list_users(query(request, UserQuery),
                                                                       scope=scope(request)))


@router.route("POST", "/v1/users", summary="Create a user", tag="users", roles=ADMIN, body=UserIn,
              response=UserOut, status=201, errors=(401, 403, 409, 422))
async def create_user(request: web.Request) -> web.StreamResponse:
    """A user with a role, clients (none only for a global admin; exactly one for integration) and team."""
    req = await body(request, UserIn)
    return json_response(await request.app[CONTAINER].users.create_user(actor(request), req, scope=scope(request)),
                         status=201)


@router.route("GET", "/v1/users/{user_id}", summary="One user", tag="users", roles=ADMIN, response=UserOut,
              errors=(401, 403, 404))
async def get_user(request: web.Request) -> web.StreamResponse:
    """One user."""
    users = request.app[CONTAINER].users
    return json_response(await users.get_user(request.match_info["user_id"], scope=scope(request)))


@router.route("PATCH", "/v1/users/{user_id}", summary="Change or (de)activate a user", tag="users", roles=ADMIN,
              body=UserPatch, response=UserOut, errors=(401, 403, 404, 409, 422))
async def update_user(request: web.Request) -> web.StreamResponse:
    """Change role, clients, team...; ``active: false`` refuses the user's next request and ends their streams."""
    req = await body(request, UserPatch)
    out = await request.app[CONTAINER].users.update_user(actor(request), request.match_info["user_id"], req,
                                                          scope=scope(request))
    return json_response(out)


@router.route("GET", "/v1/users/{user_id}/tokens", summary="A user's tokens", tag="users", roles=ADMIN,
              query=TokenQuery, response=TokenList, errors=(401, 403, 404, 422))
async def list_tokens(request: web.Request) -> web.StreamResponse:
    """Every token of the user (its console sessions too), newest first, with expiry and last use (never the
    secret); paged by ``next_cursor``."""
    out = await request.app[CONTAINER].users.list_tokens(request.match_info["user_id"], query(request, TokenQuery),
                                                         scope=scope(request))
    return json_response(out)


@router.route("POST", "/v1/users/{user_id}/tokens", summary="Issue a token", tag="users", roles=ADMIN,
              body=TokenIn, response=IssuedToken, status=201, errors=(401, 403, 404, 409, 422))
async def issue_token(request: web.Request) -> web.StreamResponse:
    """A new bearer token: the secret is in this answer only."""
    req = await body(request, TokenIn)
    out = await request.app[CONTAINER].users.issue_token(actor(request), request.match_info["user_id"], req,
                                                          scope=scope(request))
    return json_response(out, status=201)


@router.route("POST", "/v1/tokens/{token_id}/revoke", summary="Revoke a token", tag="users", roles=ADMIN,
              body=RevokeIn, response=TokenOut, errors=(401, 403, 404, 422))
async def revoke_token(request: web.Request) -> web.StreamResponse:
    """Refused from the next request on, and the token's open event streams end within seconds."""
    req = await body(request, RevokeIn)
    out = await request.app[CONTAINER].users.revoke_token(actor(request), request.match_info["token_id"],
                                                          reason=req.reason, scope=scope(request))
    return json_response(out)
