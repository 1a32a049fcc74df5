"""Authentication: issue tokens, resolve a bearer token to a principal, check roles."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import ApiToken, Role, User
from core.errors import Forbidden, Unauthorized, ValidationFailed
from db.base import new_id, utcnow

TOKEN_PREFIX = "cg_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the authenticated user and their role."""

    user_id: str
    role: Role
    team: str | None = None

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


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_user(
    session: AsyncSession, *, user_id: str, role: Role, display_name: str | None = None,
    team: str | None = None, sip_user: str | None = None, pbx: str | None = None,
) -> User:
    """Create or update a user (idempotent by id)."""
    if role == Role.AGENT and not sip_user:
        raise ValidationFailed("an agent needs a sip_user", details={"field": "sip_user"})
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, role=str(role), display_name=display_name or user_id, team=team,
                    sip_user=sip_user, pbx=pbx, active=True)
        session.add(user)
    else:
        user.role, user.team, user.sip_user, user.pbx, user.active = str(role), team, sip_user, pbx, True
        user.display_name = display_name or user.display_name
    await session.flush()
    return user


async def issue_token(session: AsyncSession, *, user_id: str, label: str = "", token: str | None = None) -> str:
    """Issue a new bearer token for ``user_id``; the clear token is returned once and never stored."""
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(id=new_id(), user_id=user_id, token_hash=hash_token(token), label=label))
    await session.flush()
    return token


# the token and its user in one query, built once (every request runs it)
_TOKEN_USER = (
    select(User.id, User.role, User.team, User.active, ApiToken.revoked_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """Resolve a bearer token to a principal, or raise Unauthorized."""
    row = (await session.execute(_TOKEN_USER, {"token_hash": hash_token(token)})).first()
    if row is None or not row.active or row.revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked")
    return Principal(user_id=row.id, role=Role(row.role), team=row.team)


async def revoke_tokens(session: AsyncSession, *, user_id: str) -> int:
    """Revoke every token of a user; returns how many."""
    tokens = (await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id,
                                                           ApiToken.revoked_at.is_(None)))).all()
    for t in tokens:
        t.revoked_at = utcnow()
    return len(tokens)
