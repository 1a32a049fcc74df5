"""Bearer tokens resolve to principals in one query; unknown, revoked, expired and inactive-user tokens do not."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from auth.errors import TokenExpired, TokenRevoked, UnknownToken, UserDeactivated
from auth.models import Role, User
from auth.service import Principal, authenticate, create_user, issue_token, revoke_tokens
from core.errors import Unauthorized
from db.engine import Database


async def test_a_token_resolves_to_its_user_with_clients_and_team(db: Database) -> None:
    async with db.begin() as s:
        await create_user(s, user_id="ann", role=Role.AGENT, sip_user="1001", team="t1", clients=["b2", "b1", "b2"])
        token = await issue_token(s, user_id="ann")
    async with db.read() as s:
        who = await authenticate(s, token)
        assert who == Principal("ann", Role.AGENT, "t1", frozenset({"b1", "b2"}))
        assert who.token_id is not None and not who.is_global
        assert who.expires_at is not None and who.expires_at - datetime.now(UTC) > timedelta(days=89)
        with pytest.raises(UnknownToken):
            await authenticate(s, token + "x")


async def test_revoked_expired_and_inactive_user_tokens_are_refused_each_with_its_code(db: Database) -> None:
    async with db.begin() as s:
        for uid in ("bob", "cy", "dee"):
            await create_user(s, user_id=uid, role=Role.ADMIN)
        revoked = await issue_token(s, user_id="bob")
        inactive = await issue_token(s, user_id="cy")
        expiring = await issue_token(s, user_id="dee", expires_at=datetime.now(UTC) + timedelta(hours=1))
    async with db.begin() as s:
        assert await revoke_tokens(s, user_id="bob") == 1
        await s.execute(update(User).where(User.id == "cy").values(active=False))
    async with db.read() as s:
        for token, error in ((revoked, TokenRevoked), (inactive, UserDeactivated)):
            with pytest.raises(error):
                await authenticate(s, token)
        assert (await authenticate(s, expiring)).is_global
        with pytest.raises(TokenExpired) as exc:
            await authenticate(s, expiring, now=datetime.now(UTC) + timedelta(hours=2))
        assert isinstance(exc.value, Unauthorized) and exc.value.status == 401
