"""The folded ledger queries answer exactly as the one-query-per-fact reading they replaced (kept here as
the reference), on SQLite and PostgreSQL, including own-number streaks that reach past the lookback, and an
outside party's transfer leg counts exactly as a call to its number would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, case, delete, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.ledger import LedgerCounts, LedgerRanges
from compliance.ledger_sql import ledger_counts
from db.base import UTCDateTime
from db.engine import Database
from dialer.models import Call, CallLeg

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RANGES = LedgerRanges(now=NOW, day_start_utc=datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
                      rolling_7d_start_utc=NOW - timedelta(days=7), day_zone="Asia/Shanghai")
DEBTOR, CASE, NUMBER, OTHER = "bank:d1", "case-1", "+8613800000001", "+8613800000002"
_ATTEMPT = or_(Call.customer_ringing_at.is_not(None), Call.ended_at.is_(None))


async def reference_counts(session: AsyncSession, *, number: str, debtor_key: str, case_id: str | None,
                           ranges: LedgerRanges, conversation_min_talk_s: float) -> LedgerCounts:
    """The previous reading: one query per fact (number, debtor 31 days, last 50 own, third party)."""
    now = ranges.now
    since = min(ranges.day_start_utc, now - timedelta(days=1))
    unanswered = and_(_ATTEMPT, Call.answered_at.is_(None))
    row = (await session.execute(select(
        func.sum(case((and_(unanswered, Call.created_at >= ranges.day_start_utc), 1), else_=0)),
        type_coerce(func.max(case((unanswered, Call.created_at), else_=None)), UTCDateTime()),
    ).where(Call.number == number, Call.created_at >= since))).one()
    rows = (await session.execute(select(Call.created_at, Call.answered_at, Call.talk_seconds, Call.outcome).where(
        Call.debtor_key == debtor_key, Call.created_at > now - timedelta(days=31), _ATTEMPT))).all()
    own = (await session.execute(select(Call.answered_at).where(
        Call.debtor_key == debtor_key, Call.number_kind == "own", _ATTEMPT)
        .order_by(Call.created_at.desc()).limit(50))).scalars().all()
    failed = 0
    for answered in own:
        if answered is not None:
            break
        failed += 1
    third = 0
    if case_id is not None:
        third = int(await session.scalar(select(func.count()).select_from(Call).where(
            Call.case_id == case_id, Call.number == number, Call.number_kind == "third_party", _ATTEMPT)) or 0)
    conversations = [r.created_at for r in rows if r.answered_at is not None and (
        (r.talk_seconds or 0) >= conversation_min_talk_s or r.outcome == "right_party_contact")]
    return LedgerCounts(
        unanswered_to_number_today=int(row[0] or 0), last_unanswered_to_number_at=row[1],
        connected_with_debtor_today=sum(1 for r in rows if r.answered_at is not None
                                        and r.created_at >= ranges.day_start_utc),
        debtor_attempts_7d=tuple(sorted(r.created_at for r in rows if r.created_at > ranges.rolling_7d_start_utc)),
        last_conversation_at=max(conversations) if conversations else None,
        consecutive_failed_own_attempts=failed, third_party_calls_to_number=third)


# one call: minutes before NOW (negative: after NOW), number, kind, outcome shape
calls_strategy = st.lists(
    st.tuples(st.integers(min_value=-30, max_value=60 * 24 * 45), st.sampled_from([NUMBER, OTHER]),
              st.sampled_from(["own", "third_party"]),
              st.sampled_from(["answered", "answered_short", "rpc_short", "no_answer", "agent_missed", "live"])),
    max_size=70, unique_by=lambda c: c[0])


def _call(minutes_ago: int, number: str, kind: str, shape: str) -> Call:
    created = NOW - timedelta(minutes=minutes_ago)
    ring = created + timedelta(seconds=5)
    answered = created + timedelta(seconds=10) if shape.startswith(("answered", "rpc")) else None
    ended = None if shape == "live" else created + timedelta(seconds=60)
    return Call(id=str(uuid.uuid4()), agent_id="a", requested_by="a", number=number, number_kind=kind,
                case_id=CASE, debtor_key=DEBTOR, pbx="local", sip_user="1", state="ended", created_at=created,
                customer_ringing_at=None if shape == "agent_missed" else ring, answered_at=answered,
                ended_at=ended, talk_seconds=120.0 if shape == "answered" else (5.0 if answered else None),
                outcome="right_party_contact" if shape == "rpc_short" else None)


def _leg(call: Call) -> CallLeg:
    """The same attempt as an outside party's leg of another call (a transfer to the number)."""
    return CallLeg(id=str(uuid.uuid4()), call_id=str(uuid.uuid4()), seq=2, role="outside", user_id=None,
                   number=call.number, sip_user="", created_at=call.created_at, case_id=call.case_id,
                   debtor_key=call.debtor_key, number_kind=call.number_kind, ringing_at=call.customer_ringing_at,
                   answered_at=call.answered_at, ended_at=call.ended_at, talk_seconds=call.talk_seconds)


async def _as_legs(db: Database, calls: list[Call], legs: list[Call]) -> tuple[LedgerCounts, LedgerCounts]:
    """The ledger with ``legs`` stored as transfer legs, and the reference with them stored as calls."""
    async with db.begin() as s:
        await s.execute(delete(Call))
        await s.execute(delete(CallLeg))
        s.add_all(calls)
        s.add_all(_leg(c) for c in legs)
    kw = {"number": NUMBER, "debtor_key": DEBTOR, "case_id": CASE, "ranges": RANGES, "conversation_min_talk_s": 30.0}
    async with db.read() as s:
        got = await ledger_counts(s, **kw)
    async with db.begin() as s:
        await s.execute(delete(CallLeg))
        s.add_all(legs)
    async with db.read() as s:
        return got, await reference_counts(s, **kw)


async def _both(db: Database, calls: list[Call]) -> tuple[LedgerCounts, LedgerCounts]:
    async with db.begin() as s:
        await s.execute(delete(Call))
        s.add_all(calls)
    async with db.read() as s:
        kw = {"number": NUMBER, "debtor_key": DEBTOR, "case_id": CASE, "ranges": RANGES,
              "conversation_min_talk_s": 30.0}
        return await ledger_counts(s, **kw), await reference_counts(s, **kw)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=calls_strategy)
async def test_folded_counts_equal_the_reference(db: Database, spec: list[tuple[int, str, str, str]]) -> None:
    got, want = await _both(db, [_call(*c) for c in spec])
    assert got == want


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=calls_strategy, as_leg=st.lists(st.booleans(), min_size=70, max_size=70))
async def test_an_outside_transfer_leg_counts_as_a_call_to_its_number(
        db: Database, spec: list[tuple[int, str, str, str]], as_leg: list[bool]) -> None:
    # a leg has no outcome of its own, and the own streak reads legs within the 31-day lookback only
    picked = [flag and c[3] != "rpc_short" and c[0] < 60 * 24 * 30 for c, flag in zip(spec, as_leg, strict=False)]
    calls = [_call(*c) for c, leg in zip(spec, picked, strict=False) if not leg]
    legs = [_call(*c) for c, leg in zip(spec, picked, strict=False) if leg]
    got, want = await _as_legs(db, calls, legs)
    assert got == want


async def test_a_transfer_leg_to_the_number_is_an_attempt_until_it_ends_without_ringing(db: Database) -> None:
    rang = _call(10, NUMBER, "third_party", "no_answer")
    failed = _call(5, NUMBER, "third_party", "agent_missed")  # never rang, ended: the PBX could not dial it
    live = _call(1, NUMBER, "third_party", "live")
    got, want = await _as_legs(db, [], [rang, failed, live])
    assert got == want
    assert (got.unanswered_to_number_today, got.third_party_calls_to_number) == (2, 2)
    assert got.last_unanswered_to_number_at == live.created_at and len(got.debtor_attempts_7d) == 2


async def test_an_unanswered_own_streak_reaching_past_the_lookback(db: Database) -> None:
    # 3 unanswered own attempts in the last 31 days, 4 more before, then an answered one
    minutes = [60 * 24 * d for d in (1, 10, 30, 32, 40, 50, 60)]
    calls = [_call(m, NUMBER, "own", "no_answer") for m in minutes]
    calls.append(_call(60 * 24 * 70, NUMBER, "own", "answered"))
    got, want = await _both(db, calls)
    assert got == want and got.consecutive_failed_own_attempts == 7


async def test_the_streak_stops_at_fifty(db: Database) -> None:
    calls = [_call(60 * 24 * 20 + 60 * i, OTHER, "own", "no_answer") for i in range(30)]
    calls += [_call(60 * 24 * 40 + 60 * i, OTHER, "own", "no_answer") for i in range(40)]
    got, want = await _both(db, calls)
    assert got == want and got.consecutive_failed_own_attempts == 50


async def test_without_a_case_there_is_no_third_party_count(db: Database) -> None:
    async with db.begin() as s:
        s.add(_call(10, NUMBER, "third_party", "no_answer"))
    async with db.read() as s:
        got = await ledger_counts(s, number=NUMBER, debtor_key=DEBTOR, case_id=None, ranges=RANGES,
                                  conversation_min_talk_s=30.0)
    assert got.third_party_calls_to_number == 0 and got.unanswered_to_number_today == 1
