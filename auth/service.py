"""Authentication: issue tokens, resolve a bearer token or an EventSource ticket to a principal, check roles.

``Authenticator`` is what the HTTP edge calls: it refuses addresses with too many recent failures (429),
records every failure, slows repeated failures down, and notes a token's last use at most once per
``auth.last_used_resolution_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth import throttle
from auth.errors import (
    InvalidTicket,
    SessionExpired,
    TokenExpired,
    TokenRevoked,
    TooManyFailedSignIns,
    UnknownToken,
    UserDeactivated,
)
from auth.models import ApiToken, AuthFailure, EventTicket, Role, User
from auth.schemas import TicketOut
from config.settings import AuthSettings
from core.clock import Clock
from core.errors import CallguardError, Forbidden, Unauthorized, ValidationFailed
from db.base import new_id, utcnow
from db.engine import Database

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cg_"
TICKET_PREFIX = "cgt_"
EVENTS_PURPOSE = "events"
TOKEN_KIND = "token"  # a bearer token (Authorization header)
SESSION_KIND = "session"  # a person's console sign-in (the cg_session cookie; auth/sessions.py)
DEFAULT_TOKEN_DAYS = 90
_TOUCH_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the authenticated user, their role, team and clients (empty: a global admin)."""

    user_id: str
    role: Role
    team: str | None = None
    clients: frozenset[str] = frozenset()
    # the credential behind this request: its revocation or expiry ends the caller's open streams
    token_id: str | None = field(default=None, compare=False)
    expires_at: datetime | None = field(default=None, compare=False)
    kind: str = field(default=TOKEN_KIND, compare=False)  # the credential's kind: a token or a session

    @property
    def is_global(self) -> bool:
        """A global admin: serves every client."""
        return self.role is Role.ADMIN and not self.clients

    def require(self, *roles: Role) -> None:
        """Raise Forbidden unless the principal has one of ``roles``."""
        if self.role not in roles:
            raise Forbidden(
                f"role '{self.role}' may not do this",
                details={"required_roles": [str(r) for r in roles], "role": str(self.role)},
            )

    def is_any(self, roles: Iterable[Role]) -> bool:
        """True when the principal has one of ``roles``."""
        return self.role in set(roles)


#: the operator's own principal, a global admin: the demo loader and the command line act as it
OPERATOR = Principal(user_id="operator", role=Role.ADMIN)


def hash_token(token: str) -> str:
    """The stored form of a token (or ticket)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_user(
    session: AsyncSession, *, user_id: str, role: Role, display_name: str | None = None,
    team: str | None = None, sip_user: str | None = None, pbx: str | None = None, clients: Iterable[str] = (),
) -> User:
    """Create or update a user (idempotent by id), unaudited: for set-up and fixtures (see auth.admin)."""
    if role == Role.AGENT and not sip_user:
        raise ValidationFailed("an agent needs a sip_user", details={"field": "sip_user"})
    client_list = sorted(set(clients))
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, role=str(role), display_name=display_name or user_id, team=team,
                    sip_user=sip_user, pbx=pbx, active=True, clients=client_list)
        session.add(user)
    else:
        user.role, user.team, user.sip_user, user.pbx, user.active = str(role), team, sip_user, pbx, True
        user.clients = client_list
        user.display_name = display_name or user.display_name
    await session.flush()
    return user


async def add_token(session: AsyncSession, *, user_id: str, expires_at: datetime, label: str = "",
                    token: str | None = None) -> tuple[ApiToken, str]:
    """Store a new token for ``user_id``; its row and the clear token (returned once, never stored)."""
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(id=new_id(), user_id=user_id, token_hash=hash_token(token), label=label, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row, token


async def issue_token(session: AsyncSession, *, user_id: str, label: str = "", token: str | None = None,
                      expires_at: datetime | None = None) -> str:
    """Issue a bearer token (default lifetime 90 days), unaudited: for set-up and fixtures."""
    expires_at = expires_at or utcnow() + timedelta(days=DEFAULT_TOKEN_DAYS)
    return (await add_token(session, user_id=user_id, label=label, token=token, expires_at=expires_at))[1]


# the token and its user in one query, built once (every request runs it)
_TOKEN_USER = (
    select(User.id, User.role, User.team, User.clients, User.active, ApiToken.id.label("token_id"),
           ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at, ApiToken.kind)
    .join(ApiToken, ApiToken.user_id == User.id)
)
_BY_HASH = _TOKEN_USER.where(ApiToken.token_hash == bindparam("token_hash"))
_BY_ID = _TOKEN_USER.where(ApiToken.id == bindparam("token_id"))


def _principal(row: Row[*tuple[Any, ...]] | None, now: datetime) -> Principal:
    """The principal of a token row, or the precise 401 (unknown, revoked, expired, user deactivated)."""
    if row is None:
        raise UnknownToken("the bearer token is unknown")
    if row.revoked_at is not None:
        raise TokenRevoked("the bearer token was revoked")
    if row.expires_at is None or row.expires_at <= now:
        raise TokenExpired("the bearer token has expired",
                           details={"expired_at": row.expires_at.isoformat() if row.expires_at else None})
    if not row.active:
        raise UserDeactivated("the user is deactivated")
    return Principal(user_id=row.id, role=Role(row.role), team=row.team, clients=frozenset(row.clients or ()),
                     token_id=row.token_id, expires_at=row.expires_at, kind=row.kind)


async def authenticate(session: AsyncSession, token: str, *, now: datetime | None = None) -> Principal:
    """Resolve a bearer token to a principal, or raise Unauthorized (with a precise code)."""
    row = (await session.execute(_BY_HASH, {"token_hash": hash_token(token)})).first()
    return _principal(row, now or utcnow())


async def revoke_tokens(session: AsyncSession, *, user_id: str) -> int:
    """Revoke every token of a user, unaudited (set-up only; see auth.admin); returns how many."""
    tokens = (await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id,
                                                           ApiToken.revoked_at.is_(None)))).all()
    for t in tokens:
        t.revoked_at = utcnow()
    return len(tokens)


Sleep = Callable[[float], Awaitable[None]]


class Authenticator:
    """The edge's authentication: tokens and tickets, throttled per address through the database."""

    def __init__(self, *, db: Database, settings: AuthSettings, clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self._touched: dict[str, datetime] = {}

    async def authenticate(self, token: str, *, address: str, kind: str = TOKEN_KIND) -> Principal:
        """The principal of a bearer token (or of a session's secret, ``kind="session"``); 429 while the address
        is locked out, 401 (recorded) on failure. A credential of the other kind is unknown here."""
        now = self.clock.now()
        async with self.db.read() as s:
            await self._refuse_locked(s, address, now)
            row = (await s.execute(_BY_HASH, {"token_hash": hash_token(token)})).first()
        if row is not None and row.kind != kind:
            row = None
        try:
            who = self._resolve(row, now)
        except Unauthorized as err:
            await self._failed(address, err, user_id=row.id if row else None, token_id=row.token_id if row else None)
            raise
        await self._touch(who, row.last_used_at if row else None, now)
        return who

    async def still_valid(self, who: Principal) -> bool:
        """Whether ``who``'s token is still good and its user unchanged (role, team, clients)."""
        if who.token_id is None:
            return False
        async with self.db.read() as s:
            row = (await s.execute(_BY_ID, {"token_id": who.token_id})).first()
        try:
            return self._resolve(row, self.clock.now()) == who
        except Unauthorized:
            return False

    async def issue_ticket(self, who: Principal, *, purpose: str = EVENTS_PURPOSE) -> TicketOut:
        """A single-use ticket for one purpose, valid ``auth.ticket_ttl_s``; only its hash is stored."""
        if who.token_id is None:
            raise Unauthorized("a ticket is issued only to a bearer token")
        ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        expires_at = now + timedelta(seconds=self.settings.ticket_ttl_s)
        async with self.db.begin() as s:
            s.add(EventTicket(id=new_id(), ticket_hash=hash_token(ticket), user_id=who.user_id,
                              token_id=who.token_id, purpose=purpose, created_at=now, expires_at=expires_at))
        return TicketOut(ticket=ticket, purpose=purpose, expires_at=expires_at)

    async def redeem_ticket(self, ticket: str, *, address: str, purpose: str = EVENTS_PURPOSE) -> Principal:
        """The principal behind a ticket, consuming it; its token must still be valid and its user active."""
        now = self.clock.now()
        async with self.db.read() as s:
            await self._refuse_locked(s, address, now)
        try:
            async with self.db.begin() as s:
                claimed = (await s.execute(
                    update(EventTicket)
                    .where(EventTicket.ticket_hash == hash_token(ticket), EventTicket.used_at.is_(None),
                           EventTicket.purpose == purpose, EventTicket.expires_at > now)
                    .values(used_at=now)
                    .returning(EventTicket.token_id)
                )).first()
                if claimed is None:
                    known = await s.scalar(select(EventTicket.id).where(EventTicket.ticket_hash == hash_token(ticket)))
                    raise InvalidTicket("the ticket is unknown, used, expired or for another purpose",
                                        reason="invalid-ticket" if known else "unknown-ticket")
                row = (await s.execute(_BY_ID, {"token_id": claimed.token_id})).first()
                return self._resolve(row, now)
        except Unauthorized as err:
            await self._failed(address, err)
            raise

    async def purge(self) -> None:
        """Forget old failures and spent tickets (a periodic job)."""
        now = self.clock.now()
        async with self.db.begin() as s:
            await throttle.purge_failures(s, now, self.settings)
            await s.execute(delete(EventTicket).where(EventTicket.expires_at < now - timedelta(hours=1)))

    async def refuse_locked(self, address: str) -> None:
        """429 while ``address`` is locked out (before a password is even looked at)."""
        async with self.db.read() as s:
            await self._refuse_locked(s, address, self.clock.now())

    async def failed(self, address: str, err: CallguardError, *, user_id: str | None = None) -> None:
        """Record a failed sign-in (a wrong password counts like a guessed token) and slow the answer down."""
        await self._failed(address, err, user_id=user_id)

    def _resolve(self, row: Row[*tuple[Any, ...]] | None, now: datetime) -> Principal:
        """``_principal``, and a session idle for longer than ``auth.session_idle_s`` has ended."""
        who = _principal(row, now)
        if who.kind == SESSION_KIND and row is not None:
            seen = max(filter(None, (row.last_used_at, self._touched.get(row.token_id))), default=None)
            if seen is None or now - seen >= timedelta(seconds=self.settings.session_idle_s):
                raise SessionExpired("the session ended after a time without use; sign in again",
                                     details={"idle_s": self.settings.session_idle_s})
        return who

    async def _refuse_locked(self, session: AsyncSession, address: str, now: datetime) -> None:
        recent = await throttle.recent_failures(session, address, now, self.settings)
        left = throttle.lockout_remaining_s(recent, now, self.settings)
        if left:
            raise TooManyFailedSignIns(left)

    async def _failed(self, address: str, err: CallguardError, *, user_id: str | None = None,
                      token_id: str | None = None) -> None:
        """Record the failure, then hold the answer back if the address keeps failing."""
        now = self.clock.now()
        async with self.db.begin() as s:
            reason = err.reason if isinstance(err, InvalidTicket) else err.code
            s.add(AuthFailure(at=now, address=address[:64], reason=reason, user_id=user_id, token_id=token_id))
            await s.flush()
            recent = await throttle.recent_failures(s, address, now, self.settings)
        log.info("failed authentication from %s: %s (%d in window)", address, err.code, recent.count)
        delay = throttle.failure_delay_s(recent.count, self.settings)
        if delay:
            await self.sleep(delay)

    async def _touch(self, who: Principal, last_used_at: datetime | None, now: datetime) -> None:
        """Note the token's use, at most once per resolution (also across instances: the update is conditional)."""
        assert who.token_id is not None
        resolution = timedelta(seconds=self.settings.last_used_resolution_s)
        seen = max(filter(None, (last_used_at, self._touched.get(who.token_id))), default=None)
        if seen is not None and now - seen < resolution:
            return
        if len(self._touched) >= _TOUCH_CACHE_MAX:
            self._touched.clear()
        self._touched[who.token_id] = now
        async with self.db.begin() as s:
            await s.execute(update(ApiToken).where(
                ApiToken.id == who.token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - resolution),
            ).values(last_used_at=now))
