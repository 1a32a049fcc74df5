"""HTTP handlers of people's sign-in: the console session (cookie ``cg_session``) and passwords."""

from __future__ import annotations

from aiohttp import web

from api.auth import actor
from api.keys import CONTAINER
from api.routing import ALL_ROLES, Router, body, error_response, json_response, principal
from auth.errors import TooManyFailedSignIns
from auth.schemas import PasswordIn, SessionOut, SignInIn
from auth.sessions import SESSION_COOKIE
from core.errors import BadRequest

router = Router()


def _set_cookie(request: web.Request, response: web.StreamResponse, value: str, *, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                        secure=request.secure)


@router.route("POST", "/v1/session", summary="Sign in (a console session)", tag="session", roles=None,
              body=SignInIn, response=SessionOut, status=201, errors=(400, 401, 429))
async def sign_in(request: web.Request) -> web.StreamResponse:
    """Username and password; sets the ``cg_session`` cookie (HttpOnly, SameSite=Strict, Secure over TLS).

    Send ``csrf_token`` back in ``X-CSRF-Token`` on every state-changing request made with the cookie. A
    wrong password is 401 ``sign-in-failed``, recorded and throttled per address like a guessed token. The
    body must be ``application/json`` (a cross-site form cannot sign a browser in to someone else's account).
    """
    if request.content_type != "application/json":
        raise BadRequest("sign in with a JSON body (Content-Type: application/json)", code="json-required")
    req = await body(request, SignInIn)
    c = request.app[CONTAINER]
    try:
        done = await c.sessions.sign_in(req, address=request.remote or "unknown")
    except TooManyFailedSignIns as err:
        return error_response(request, err, headers={"Retry-After": str(err.retry_after_s)})
    response = json_response(done.session, status=201)
    _set_cookie(request, response, done.secret, max_age=c.settings.auth.session_max_hours * 3600)
    return response


@router.route("GET", "/v1/session", summary="Who am I (and the session's CSRF token)", tag="session",
              roles=ALL_ROLES, response=SessionOut, errors=(401, 429))
async def whoami(request: web.Request) -> web.StreamResponse:
    """The caller's user, role, clients and team; with the session cookie, its CSRF token too."""
    who = principal(request)
    out = await request.app[CONTAINER].sessions.whoami(who, secret=request.cookies.get(SESSION_COOKIE))
    return json_response(out, headers={"Cache-Control": "no-store"})


@router.route("DELETE", "/v1/session", summary="Sign out", tag="session", roles=ALL_ROLES, status=204,
              errors=(401, 403, 429))
async def sign_out(request: web.Request) -> web.StreamResponse:
    """Ends the session at once (on every instance, with its open event streams) and clears the cookie."""
    await request.app[CONTAINER].sessions.sign_out(principal(request), address=request.remote)
    response = web.Response(status=204)
    _set_cookie(request, response, "", max_age=0)
    return response


@router.route("PUT", "/v1/users/{user_id}/password", summary="Set a password", tag="users", roles=ALL_ROLES,
              body=PasswordIn, status=204, errors=(401, 403, 404, 422, 429))
async def set_password(request: web.Request) -> web.StreamResponse:
    """One's own (with ``old_password``; a wrong one is recorded as a failed sign-in), or an admin sets
    another user's within its clients. The user's other console sessions end; bearer tokens stay."""
    req = await body(request, PasswordIn)
    await request.app[CONTAINER].sessions.set_password(actor(request), principal(request),
                                                       request.match_info["user_id"], req,
                                                       address=request.remote or "unknown")
    return web.Response(status=204)
