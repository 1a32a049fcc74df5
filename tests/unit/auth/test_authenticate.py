"""Bearer tokens resolve to principals in one query; unknown, revoked and inactive-user tokens do not."""

import pytest
from sqlalchemy import update

from auth.models import Role, User
from auth.service import Principal, authenticate, create_user, issue_token, revoke_tokens
from core.errors import Unauthorized
from db.engine import Database


async def test_a_token_resolves_to_its_user(db: Database) -> None:
    async with db.begin() as s:
        await create_user(s, user_id="ann", role=Role.AGENT, sip_user="1001", team="t1")
        token = await issue_token(s, user_id="ann")
    async with db.read() as s:
        assert await authenticate(s, token) == Principal("ann", Role.AGENT, "t1")
        with pytest.raises(Unauthorized):
            await authenticate(s, token + "x")


async def test_revoked_tokens_and_inactive_users_are_refused(db: Database) -> None:
    async with db.begin() as s:
        await create_user(s, user_id="bob", role=Role.ADMIN)
        await create_user(s, user_id="cy", role=Role.ADMIN)
        revoked = await issue_token(s, user_id="bob")
        inactive = await issue_token(s, user_id="cy")
    async with db.begin() as s:
        assert await revoke_tokens(s, user_id="bob") == 1
        await s.execute(update(User).where(User.id == "cy").values(active=False))
    async with db.read() as s:
        for token in (revoked, inactive):
            with pytest.raises(Unauthorized):
                await authenticate(s, token)
