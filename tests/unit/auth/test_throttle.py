"""The failed sign-in throttle: pure decisions, and the authenticator over the database with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from auth.errors import InvalidTicket, TokenExpired, TooManyFailedSignIns, UnknownToken
from auth.models import AuthFailure, Role
from auth.service import Authenticator, Principal, create_user, issue_token
from auth.throttle import RecentFailures, failure_delay_s, lockout_remaining_s
from config.settings import AuthSettings
from core.clock import FakeClock
from db.engine import Database

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
S = AuthSettings(delay_after_failures=3, delay_step_ms=200, max_delay_ms=500, lockout_after_failures=5,
                 lockout_s=300, failure_window_s=900, ticket_ttl_s=60)


def test_failures_are_slowed_down_from_the_threshold_up_to_the_cap() -> None:
    assert [failure_delay_s(n, S) for n in range(1, 7)] == [0.0, 0.0, 0.2, 0.4, 0.5, 0.5]


def test_the_lockout_holds_for_lockout_s_after_the_last_failure() -> None:
    last = T0
    assert lockout_remaining_s(RecentFailures(4, last), T0, S) == 0
    assert lockout_remaining_s(RecentFailures(5, last), T0, S) == 300
    assert lockout_remaining_s(RecentFailures(5, last), T0 + timedelta(seconds=299.5), S) == 1
    assert lockout_remaining_s(RecentFailures(9, last), T0 + timedelta(seconds=300), S) == 0


def test_lockout_below_the_delay_threshold_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="lockout_after_failures"):
        AuthSettings(delay_after_failures=5, lockout_after_failures=4)


async def test_an_address_is_locked_out_then_let_in_again_and_others_are_not_affected(db: Database) -> None:
    clock, sleeps = FakeClock(T0), []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with db.begin() as s:
        await create_user(s, user_id="ada", role=Role.ADMIN)
        good = await issue_token(s, user_id="ada", expires_at=T0 + timedelta(days=1))
    auth = Authenticator(db=db, settings=S, clock=clock, sleep=sleep)
    for _ in range(5):
        with pytest.raises(UnknownToken):
            await auth.authenticate("cg_wrong", address="10.0.0.9")
        clock.advance(seconds=1)
    assert sleeps == [0.2, 0.4, 0.5]
    with pytest.raises(TooManyFailedSignIns) as exc:
        await auth.authenticate(good, address="10.0.0.9")
    assert exc.value.retry_after_s == 299 and exc.value.status == 429
    assert (await auth.authenticate(good, address="10.0.0.10")).user_id == "ada"  # another address
    clock.advance(seconds=299)
    assert (await auth.authenticate(good, address="10.0.0.9")).user_id == "ada"
    # still inside the window: the next failure locks it again at once
    with pytest.raises(UnknownToken):
        await auth.authenticate("cg_wrong", address="10.0.0.9")
    with pytest.raises(TooManyFailedSignIns):
        await auth.authenticate(good, address="10.0.0.9")
    await auth.purge()  # nothing old enough to forget yet
    with pytest.raises(TooManyFailedSignIns):
        await auth.authenticate(good, address="10.0.0.9")


async def test_a_ticket_is_single_use_short_lived_and_bound_to_its_token(db: Database) -> None:
    clock = FakeClock(T0)
    async with db.begin() as s:
        await create_user(s, user_id="mia", role=Role.MANAGER, clients=["bank1"])
        token = await issue_token(s, user_id="mia", expires_at=T0 + timedelta(days=1))
    auth = Authenticator(db=db, settings=S, clock=clock)
    who = await auth.authenticate(token, address="a")
    first = await auth.issue_ticket(who)
    assert first.expires_at == T0 + timedelta(seconds=60)
    redeemed = await auth.redeem_ticket(first.ticket, address="a")
    assert redeemed == Principal("mia", Role.MANAGER, None, frozenset({"bank1"}))
    assert redeemed.token_id == who.token_id
    with pytest.raises(InvalidTicket):
        await auth.redeem_ticket(first.ticket, address="a")  # used
    late = await auth.issue_ticket(who)
    clock.advance(seconds=61)
    with pytest.raises(InvalidTicket):
        await auth.redeem_ticket(late.ticket, address="a")  # expired
    other = await auth.issue_ticket(who, purpose="events")
    with pytest.raises(InvalidTicket):
        await auth.redeem_ticket(other.ticket, address="a", purpose="audio")  # another purpose


async def test_stale_credentials_are_recorded_but_only_guesses_lock_an_address_out(db: Database) -> None:
    clock = FakeClock(T0)
    async with db.begin() as s:
        await create_user(s, user_id="ada", role=Role.ADMIN)
        good = await issue_token(s, user_id="ada", expires_at=T0 + timedelta(days=1))
        stale = await issue_token(s, user_id="ada", expires_at=T0 - timedelta(days=1))
    auth = Authenticator(db=db, settings=S, clock=clock, sleep=_no_sleep)
    ticket = await auth.issue_ticket(await auth.authenticate(good, address="office"))
    await auth.redeem_ticket(ticket.ticket, address="office")
    for _ in range(6):  # a browser that keeps presenting an expired token and a spent ticket
        with pytest.raises(TokenExpired):
            await auth.authenticate(stale, address="office")
        with pytest.raises(InvalidTicket):
            await auth.redeem_ticket(ticket.ticket, address="office")
    assert (await auth.authenticate(good, address="office")).user_id == "ada"  # the office is not locked out
    for _ in range(5):
        with pytest.raises(InvalidTicket):
            await auth.redeem_ticket("cgt_guess", address="office")
    with pytest.raises(TooManyFailedSignIns):
        await auth.authenticate(good, address="office")
    async with db.read() as s:
        reasons = dict((await s.execute(select(AuthFailure.reason, func.count()).group_by(AuthFailure.reason))).all())
    assert reasons == {"token-expired": 6, "invalid-ticket": 6, "unknown-ticket": 5}


async def _no_sleep(_seconds: float) -> None:
    return None
