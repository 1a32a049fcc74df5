"""People's sign-in: passwords (argon2id) and console sessions.

A session is a row of ``api_tokens`` of kind ``session``: revocation, expiry, deactivation and the client
scope apply to it exactly as to a bearer token, and its open event streams end the same way. It differs in
how it is presented (only as the ``cg_session`` cookie, never in a header), in its idle timeout
(``auth.session_idle_s``, checked by ``Authenticator``) and in its CSRF token: a digest of the session's
secret that the console sends back in ``X-CSRF-Token`` (another site's page can make the browser send the
cookie, but cannot read the secret or its digest).

Wrong passwords are recorded as failed sign-ins and throttled with guessed tokens (``auth/throttle.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from audit.service import Actor, AuditService
from auth.admin import UserAdmin
from auth.errors import NoSuchUser, SignInFailed, UserDeactivated, WrongPassword
from auth.events import TOKEN_REVOKED, record_session_event
from auth.models import ApiToken, Role, User
from auth.passwords import check_strength, hash_password, verify_password
from auth.schemas import PasswordIn, SessionOut, SignInIn
from auth.service import SESSION_KIND, Authenticator, Principal, add_token
from config.settings import AuthSettings
from core.clock import Clock
from core.errors import Forbidden
from core.events import EventLog
from db.engine import Database

SESSION_COOKIE = "cg_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PREFIX = "cgs_"
Scope = frozenset[str] | None


def csrf_token(secret: str) -> str:
    """The CSRF token of a session: a digest of its secret (so nothing more is stored)."""
    return hashlib.sha256(b"callguard-csrf\0" + secret.encode("utf-8")).hexdigest()


def csrf_ok(secret: str, header: str | None) -> bool:
    """Whether ``header`` is the CSRF token of the session ``secret`` (compared in constant time)."""
    return header is not None and hmac.compare_digest(csrf_token(secret), header.strip())


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: its secret (for the cookie only) and what the console is told."""

    secret: str
    session: SessionOut


class SessionService:
    """Sign in, sign out, who am I, and passwords (set by oneself with the old one, or by an admin)."""

    def __init__(self, *, db: Database, settings: AuthSettings, clock: Clock, events: EventLog, audit: AuditService,
                 auth: Authenticator, users: UserAdmin) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.events = events
        self.audit = audit
        self.auth = auth
        self.users = users

    async def sign_in(self, body: SignInIn, *, address: str) -> SignedIn:
        """A new session for a right password; a wrong one is 401 sign-in-failed, recorded and throttled."""
        await self.auth.refuse_locked(address)
        async with self.db.read() as s:
            user = await s.get(User, body.username)
        ok, rehash = await verify_password(user.password_hash if user else None, body.password)
        if not ok or user is None:
            await self.auth.failed(address, SignInFailed("wrong username or password"),
                                   user_id=user.id if user else None)
            raise SignInFailed("wrong username or password")
        if not user.active:
            err = UserDeactivated("the user is deactivated")
            await self.auth.failed(address, err, user_id=user.id)
            raise err
        now = self.clock.now()
        new_hash = await hash_password(body.password) if rehash else None
        async with self.db.begin() as s:
            if new_hash is not None:
                await s.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
            secret = SESSION_PREFIX + secrets.token_urlsafe(32)
            row, _ = await add_token(s, user_id=user.id, token=secret, label="console",
                                     expires_at=now + timedelta(hours=self.settings.session_max_hours))
            row.kind, row.created_at, row.last_used_at = SESSION_KIND, now, now
            await s.flush()
            await self.audit.record(s, actor=Actor(user_id=user.id, role=user.role, address=address),
                                    action="session.started", target_type="token", target_id=row.id,
                                    after={"user_id": user.id, "expires_at": row.expires_at.isoformat()
                                           if row.expires_at else None})
        return SignedIn(secret, self._out(user, row.expires_at, csrf_token(secret), SESSION_KIND))

    async def whoami(self, who: Principal, *, secret: str | None) -> SessionOut:
        """The caller, with its session's CSRF token (``secret``: the session cookie, when that was used)."""
        async with self.db.read() as s:
            user = await s.get(User, who.user_id)
        if user is None:
            raise NoSuchUser(f"no user {who.user_id}")
        csrf = csrf_token(secret) if secret is not None and who.kind == SESSION_KIND else None
        return self._out(user, who.expires_at, csrf, who.kind)

    async def sign_out(self, who: Principal, *, address: str | None) -> None:
        """End the caller's session now (its open event streams end too); a bearer token is not ended here."""
        if who.kind != SESSION_KIND or who.token_id is None:
            raise Forbidden("only a console session signs out; revoke a token with POST /v1/tokens/{id}/revoke",
                            code="not-a-session")
        now = self.clock.now()
        async with self.db.begin() as s:
            done = await s.execute(update(ApiToken).where(ApiToken.id == who.token_id, ApiToken.revoked_at.is_(None))
                                   .values(revoked_at=now, revoked_by=who.user_id))
            if getattr(done, "rowcount", 0):
                await record_session_event(s, self.events, TOKEN_REVOKED, at=now, user_id=who.user_id,
                                           token_id=who.token_id)
                await self.audit.record(s, actor=Actor(user_id=who.user_id, role=str(who.role), address=address),
                                        action="session.ended", target_type="token", target_id=who.token_id)

    async def set_password(self, actor: Actor, who: Principal | None, user_id: str, body: PasswordIn, *,
                           address: str = "cli") -> None:
        """Set ``user_id``'s password: oneself with the right old password (none for one's first), or an admin
        within its scope (``who`` None: the command line). The user's other sessions end; bearer tokens stay."""
        check_strength(body.password, self.settings.password_min_length)
        own = who is not None and who.user_id == user_id
        if who is not None and not own and who.role is not Role.ADMIN:
            raise Forbidden("only an admin sets another user's password", code="not-your-password")
        scope: Scope = None if who is None or own or who.is_global else who.clients
        await self.users.get_user(user_id, scope=scope)  # 404 outside an admin's scope
        if own:
            async with self.db.read() as s:
                user = await s.get(User, user_id)
            # one's first password needs no old one (there is none); every later change proves the current one
            first = user is not None and user.password_hash is None
            ok = first or (await verify_password(user.password_hash if user else None, body.old_password or ""))[0]
            if not ok:
                await self.auth.failed(address, WrongPassword("the old password is wrong"), user_id=user_id)
                raise WrongPassword("the old password is wrong", details={"field": "old_password"})
        new_hash = await hash_password(body.password)
        now = self.clock.now()
        keep = who.token_id if own and who is not None else None
        async with self.db.begin() as s:
            await s.execute(update(User).where(User.id == user_id)
                            .values(password_hash=new_hash, password_changed_at=now, updated_at=now))
            ended = (await s.scalars(select(ApiToken.id).where(
                ApiToken.user_id == user_id, ApiToken.kind == SESSION_KIND, ApiToken.revoked_at.is_(None),
                ApiToken.id != (keep or "")))).all()
            if ended:
                await s.execute(update(ApiToken).where(ApiToken.id.in_(ended))
                                .values(revoked_at=now, revoked_by=actor.user_id[:64]))
            for token_id in ended:
                await record_session_event(s, self.events, TOKEN_REVOKED, at=now, user_id=user_id, token_id=token_id)
            await self.audit.record(s, actor=actor, action="user.password_set", target_type="user", target_id=user_id,
                                    reason=body.reason, after={"own": own, "sessions_ended": len(ended)})

    def _out(self, user: User, expires_at: datetime | None, csrf: str | None, kind: str) -> SessionOut:
        return SessionOut(user_id=user.id, display_name=user.display_name, role=user.role,
                          clients=list(user.clients or []), team=user.team, sip_user=user.sip_user, kind=kind,
                          expires_at=expires_at, csrf_token=csrf,
                          idle_timeout_s=self.settings.session_idle_s if kind == SESSION_KIND else None)
