"""Administering users and tokens: every change audited and, where it invalidates sessions, announced.

Called by the admin API and the CLI. A deactivation, a revocation or a change of role, clients or team
writes a session event (``auth/events.py``) in the same transaction, which ends the open event streams
of that user or token on every instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.service import Actor, AuditService
from auth.errors import InvalidClients, NoSuchToken, NoSuchUser, SipUserTaken, UserExists
from auth.events import TOKEN_REVOKED, USER_CHANGED, USER_DEACTIVATED, record_session_event
from auth.models import ApiToken, Role, User
from auth.schemas import (
    CLIENT,
    IssuedToken,
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
from auth.service import add_token
from config.settings import AuthSettings
from core.clock import Clock
from core.errors import Conflict, Forbidden, ValidationFailed
from core.events import EventLog
from core.pagination import after, decode_cursor, encode_cursor
from db.engine import Database

_CLIENT_RE = re.compile(CLIENT)
Scope = frozenset[str] | None  # the acting admin's clients; None: global
# a change to any of these changes what the user may see or do: their open streams end
_SESSION_FIELDS = ("role", "clients", "team")


def check_clients(role: Role, clients: Iterable[str]) -> list[str]:
    """The user's clients, sorted and unique, if they fit the role.

    An integration user serves exactly one client; an admin may be global (no clients); every other
    role serves at least one.
    """
    out = sorted(set(clients))
    bad = [c for c in out if not _CLIENT_RE.match(c)]
    if bad:
        raise InvalidClients("client ids are letters, digits, '.', '_' and '-'", details={"clients": bad})
    if role is Role.INTEGRATION and len(out) != 1:
        raise InvalidClients("an integration user serves exactly one client", details={"clients": out})
    if role is not Role.ADMIN and not out:
        raise InvalidClients(f"a {role} serves at least one client", details={"clients": out})
    return out


def snapshot(user: User) -> dict[str, Any]:
    """The audited state of a user."""
    return {"role": user.role, "clients": list(user.clients or []), "team": user.team,
            "display_name": user.display_name, "sip_user": user.sip_user, "pbx": user.pbx, "active": user.active}


def _token_snapshot(token: ApiToken) -> dict[str, Any]:
    return TokenOut.model_validate(token).model_dump(mode="json")


def _client_of(*client_lists: list[str]) -> str | None:
    """The one client an entry belongs to, when there is exactly one."""
    found = {c for lst in client_lists for c in lst}
    return next(iter(found)) if len(found) == 1 else None


class UserAdmin:
    """Users and tokens: create, update, (de)activate, issue, list, revoke.

    ``scope`` is the acting admin's clients: None for a global admin (and the CLI). A scoped admin sees and
    manages only users all of whose clients it serves (others answer 404, as if absent) and gives users
    only its own clients, so it can never create a global admin or reach another bank's staff.
    """

    def __init__(self, *, db: Database, settings: AuthSettings, clock: Clock, events: EventLog,
                 audit: AuditService) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.events = events
        self.audit = audit

    async def list_users(self, q: UserQuery, *, scope: Scope = None) -> UserList:
        """Users matching the filters, by id, one page of at most ``q.limit`` after ``q.cursor`` (a user id).

        The client filter and the admin's scope read the users' client lists, so rows are read in keyset
        batches by id until the page is full or the table ends.
        """
        stmt = select(User).order_by(User.id)
        if q.role is not None:
            stmt = stmt.where(User.role == str(q.role))
        if q.team is not None:
            stmt = stmt.where(User.team == q.team)
        if q.active is not None:
            stmt = stmt.where(User.active.is_(q.active))
        found: list[User] = []
        last = q.cursor
        async with self.db.read() as s:
            while len(found) < q.limit:
                batch = (await s.scalars((stmt if last is None else stmt.where(User.id > last))
                                         .limit(q.limit))).all()
                found += [u for u in batch
                          if (q.client is None or q.client in (u.clients or [])) and _within(u, scope)]
                if len(batch) < q.limit:
                    break
                last = batch[-1].id
        page = found[:q.limit]
        return UserList(items=[UserOut.model_validate(u) for u in page],
                        next_cursor=page[-1].id if len(page) == q.limit else None)

    async def get_user(self, user_id: str, *, scope: Scope = None) -> UserOut:
        """One user; 404 no-such-user."""
        async with self.db.read() as s:
            return UserOut.model_validate(await _user(s, user_id, scope=scope))

    async def create_user(self, actor: Actor, body: UserIn, *, scope: Scope = None) -> UserOut:
        """A new user; 409 user-exists when the id is taken."""
        clients = _in_scope(check_clients(body.role, body.clients), scope)
        _check_agent(body.role, body.sip_user)
        async with self.db.begin() as s:
            if await s.get(User, body.id) is not None:
                raise UserExists(f"user {body.id} exists", details={"user_id": body.id})
            await _check_sip_user_free(s, body.sip_user, body.id)
            user = User(id=body.id, role=str(body.role), clients=clients, team=body.team,
                        display_name=body.display_name or body.id, sip_user=body.sip_user, pbx=body.pbx,
                        active=True, created_at=self.clock.now())
            s.add(user)
            await s.flush()
            await self.audit.record(s, actor=actor, action="user.created", target_type="user", target_id=user.id,
                                    client_id=_client_of(clients), reason=body.reason, after=snapshot(user))
            return UserOut.model_validate(user)

    async def update_user(self, actor: Actor, user_id: str, patch: UserPatch, *, scope: Scope = None) -> UserOut:
        """Apply ``patch``; a deactivation or a change of role, clients or team ends the user's sessions."""
        async with self.db.begin() as s:
            user = await _user(s, user_id, lock=True, scope=scope)
            out = await self._apply(s, actor, user, patch.model_dump(exclude_unset=True), scope)
        return out

    async def save_user(self, actor: Actor, *, user_id: str, role: Role | None, clients: list[str] | None,
                        team: str | None = None, display_name: str | None = None, sip_user: str | None = None,
                        pbx: str | None = None, active: bool | None = None, reason: str | None = None) -> UserOut:
        """Create or update a user (the CLI's ``callguard user``): given fields change, others stay."""
        async with self.db.read() as s:
            user = await s.get(User, user_id)
            if user is None:
                if role is None:
                    raise ValidationFailed("a new user needs a role", details={"field": "role"})
                body = UserIn(id=user_id, role=role, clients=clients or [], team=team, display_name=display_name,
                              sip_user=sip_user, pbx=pbx, reason=reason)
            else:
                body = None
        if body is not None:
            created = await self.create_user(actor, body)
            if active is False:
                return await self.update_user(actor, user_id, UserPatch(active=False, reason=reason))
            return created
        changes: dict[str, Any] = {"role": role, "clients": clients, "team": team, "display_name": display_name,
                                   "sip_user": sip_user, "pbx": pbx, "active": active}
        return await self.update_user(actor, user_id, UserPatch.model_validate(
            {**{k: v for k, v in changes.items() if v is not None}, "reason": reason}))

    async def _apply(self, s: AsyncSession, actor: Actor, user: User, changes: dict[str, Any],
                     scope: Scope = None) -> UserOut:
        reason = changes.pop("reason", None)
        before = snapshot(user)
        role = Role(changes.get("role") or user.role)
        wanted = changes.get("clients")  # absent or null: unchanged (a null once failed with a 500)
        clients = _in_scope(check_clients(role, user.clients or [] if wanted is None else wanted), scope)
        sip_user = changes.get("sip_user", user.sip_user)
        _check_agent(role, sip_user)
        if sip_user != user.sip_user:
            await _check_sip_user_free(s, sip_user, user.id)
        now = self.clock.now()
        user.role, user.clients, user.sip_user = str(role), clients, sip_user
        for name in ("team", "display_name", "pbx"):
            if name in changes and (name != "display_name" or changes[name]):
                setattr(user, name, changes[name])
        if "active" in changes and changes["active"] != user.active:
            user.active = bool(changes["active"])
            user.deactivated_at = None if user.active else now
        after = snapshot(user)
        if after == before:
            return UserOut.model_validate(user)
        user.updated_at = now
        await s.flush()
        if before["active"] and not after["active"]:
            action = "user.deactivated"
            await record_session_event(s, self.events, USER_DEACTIVATED, at=now, user_id=user.id)
        elif not before["active"] and after["active"]:
            action = "user.activated"
        else:
            action = "user.updated"
        if action != "user.deactivated" and any(before[f] != after[f] for f in _SESSION_FIELDS):
            await record_session_event(s, self.events, USER_CHANGED, at=now, user_id=user.id)
        await self.audit.record(s, actor=actor, action=action, target_type="user", target_id=user.id,
                                client_id=_client_of(after["clients"], before["clients"]), reason=reason,
                                before=before, after=after)
        return UserOut.model_validate(user)

    async def issue_token(self, actor: Actor, user_id: str, body: TokenIn, *, scope: Scope = None) -> IssuedToken:
        """A new token for an active user, shown once; people's tokens live at most ``person_token_days``."""
        async with self.db.begin() as s:
            user = await _user(s, user_id, scope=scope)
            if not user.active:
                raise Conflict(f"user {user_id} is deactivated", code="user-deactivated",
                               details={"user_id": user_id})
            person = user.role != Role.INTEGRATION
            limit = self.settings.person_token_days if person else None
            days = body.expires_in_days or (limit or self.settings.integration_token_days)
            if limit is not None and days > limit:
                raise ValidationFailed(f"a person's token lives at most {limit} days", code="token-lifetime-too-long",
                                       details={"field": "expires_in_days", "max": limit})
            now = self.clock.now()
            row, token = await add_token(s, user_id=user_id, label=body.label, expires_at=now + timedelta(days=days))
            row.created_at = now
            await s.flush()
            await self.audit.record(s, actor=actor, action="token.issued", target_type="token", target_id=row.id,
                                    client_id=_client_of(user.clients or []), reason=body.reason,
                                    after={**_token_snapshot(row), "user_id": user_id})
            return IssuedToken(**TokenOut.model_validate(row).model_dump(), token=token)

    async def list_tokens(self, user_id: str, q: TokenQuery, *, scope: Scope = None) -> TokenList:
        """A user's tokens (sessions too), newest first, one page after ``q.cursor`` (never a secret)."""
        stmt = select(ApiToken).where(ApiToken.user_id == user_id)
        if q.cursor:
            stmt = stmt.where(after(ApiToken.created_at, ApiToken.id, decode_cursor(q.cursor)))
        stmt = stmt.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()).limit(q.limit)
        async with self.db.read() as s:
            await _user(s, user_id, scope=scope)
            rows = (await s.scalars(stmt)).all()
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == q.limit else None
        return TokenList(items=[TokenOut.model_validate(r) for r in rows], next_cursor=nxt)

    async def revoke_token(self, actor: Actor, token_id: str, *, reason: str | None = None,
                           scope: Scope = None) -> TokenOut:
        """Revoke one token at once (idempotent: an already revoked token is returned as it is)."""
        async with self.db.begin() as s:
            row = await s.get(ApiToken, token_id, with_for_update=True)
            owner = await s.get(User, row.user_id) if row is not None else None
            if row is None or owner is None or not _within(owner, scope):
                raise NoSuchToken(f"no token {token_id}", details={"token_id": token_id})
            if row.revoked_at is None:
                await self._revoke(s, actor, row, reason)
            out = TokenOut.model_validate(row)
        return out

    async def revoke_user_tokens(self, actor: Actor, user_id: str, *, reason: str | None = None) -> list[TokenOut]:
        """Revoke every live token of a user; the tokens revoked now."""
        async with self.db.begin() as s:
            await _user(s, user_id)
            rows = (await s.scalars(select(ApiToken).where(ApiToken.user_id == user_id,
                                                           ApiToken.revoked_at.is_(None)))).all()
            for row in rows:
                await self._revoke(s, actor, row, reason)
            out = [TokenOut.model_validate(r) for r in rows]
        return out

    async def _revoke(self, s: AsyncSession, actor: Actor, row: ApiToken, reason: str | None) -> None:
        before = _token_snapshot(row)
        now = self.clock.now()
        row.revoked_at, row.revoked_by = now, actor.user_id[:64]
        await s.flush()
        user = await s.get(User, row.user_id)
        await record_session_event(s, self.events, TOKEN_REVOKED, at=now, user_id=row.user_id, token_id=row.id)
        await self.audit.record(s, actor=actor, action="token.revoked", target_type="token", target_id=row.id,
                                client_id=_client_of(user.clients or []) if user else None, reason=reason,
                                before=before, after=_token_snapshot(row))


async def _user(s: AsyncSession, user_id: str, *, lock: bool = False, scope: Scope = None) -> User:
    user = await s.get(User, user_id, with_for_update=lock)
    if user is None or not _within(user, scope):
        raise NoSuchUser(f"no user {user_id}", details={"user_id": user_id})
    return user


def _within(user: User, scope: Scope) -> bool:
    """Whether an admin of ``scope`` may see and manage ``user`` (all of its clients are in scope)."""
    return scope is None or (bool(user.clients) and set(user.clients) <= scope)


def _in_scope(clients: list[str], scope: Scope) -> list[str]:
    """``clients`` if an admin of ``scope`` may give them (a scoped admin gives only its own, never none)."""
    if scope is not None and (not clients or not set(clients) <= scope):
        raise Forbidden("an admin of some clients gives users only those clients", code="client-out-of-scope",
                        details={"clients": clients, "allowed": sorted(scope)})
    return clients


async def _check_sip_user_free(s: AsyncSession, sip_user: str | None, user_id: str) -> None:
    """One phone account belongs to one user: 409 sip-user-taken instead of the database's unique error."""
    if sip_user is None:
        return
    holder = await s.scalar(select(User.id).where(User.sip_user == sip_user, User.id != user_id))
    if holder is not None:
        raise SipUserTaken(f"sip_user {sip_user} belongs to another user", details={"sip_user": sip_user})


def _check_agent(role: Role, sip_user: str | None) -> None:
    if role is Role.AGENT and not sip_user:
        raise ValidationFailed("an agent needs a sip_user", details={"field": "sip_user"})
