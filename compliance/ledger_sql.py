"""Ledger counts for the gate, computed with SQL from the dialer's call records.

An *attempt* is a placed call that reached the customer leg, or is still in flight (counted
conservatively until it ends). Calls that ended before the customer was dialled (the agent did
not answer, rejected, was unavailable) are not attempts to the customer. Blocked dials never
create a call, so they are never counted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.ledger import LedgerCounts, LedgerRanges
from db.base import UTCDateTime
from dialer.models import Call

_ATTEMPT = or_(Call.customer_ringing_at.is_not(None), Call.ended_at.is_(None))
_CONVERSATION_LOOKBACK = timedelta(days=31)


_OWN_STREAK_LIMIT = 50
_UNANSWERED = and_(_ATTEMPT, Call.answered_at.is_(None))

# Built once with bind parameters: constructing the statements per dial cost more than running them.
# The number's counts, with the case's third-party count as a scalar subquery (a NULL case_id matches
# no row: 0, as without a case).
_NUMBER_COUNTS = select(
    func.sum(case((and_(_UNANSWERED, Call.created_at >= bindparam("day_start", type_=UTCDateTime())), 1),
                  else_=0)),
    type_coerce(func.max(case((_UNANSWERED, Call.created_at), else_=None)), UTCDateTime()),
    select(func.count()).select_from(Call).where(
        Call.case_id == bindparam("case_id"), Call.number == bindparam("number"),
        Call.number_kind == "third_party", _ATTEMPT,
    ).scalar_subquery(),
).where(Call.number == bindparam("number"), Call.created_at >= bindparam("since", type_=UTCDateTime()))
# The debtor's attempts in the conversation lookback.
_DEBTOR_ROWS = select(Call.created_at, Call.answered_at, Call.talk_seconds, Call.outcome, Call.number_kind).where(
    Call.debtor_key == bindparam("debtor_key"), Call.created_at > bindparam("lookback_start", type_=UTCDateTime()),
    _ATTEMPT)
# The debtor's own attempts before the lookback, newest first.
_OLDER_OWN = select(Call.answered_at).where(
    Call.debtor_key == bindparam("debtor_key"), Call.number_kind == "own", _ATTEMPT,
    Call.created_at <= bindparam("lookback_start", type_=UTCDateTime()),
).order_by(Call.created_at.desc()).limit(_OWN_STREAK_LIMIT)


async def ledger_counts(session: AsyncSession, *, number: str, debtor_key: str, case_id: str | None,
                        ranges: LedgerRanges, conversation_min_talk_s: float) -> LedgerCounts:
    """Everything ``compliance.gate.evaluate`` needs to know from the ledger (see compliance.ledger).

    Usually two round trips: the number's counts (with the case's third-party count as a scalar
    subquery), and the debtor's attempts of the conversation lookback, from which the streak of failed
    own attempts is taken too; only when that streak reaches back past the lookback (and is shorter than
    the limit of 50) are the older own attempts read.
    """
    now = ranges.now
    since = min(ranges.day_start_utc, now - timedelta(days=1))
    row = (await session.execute(_NUMBER_COUNTS, {
        "day_start": ranges.day_start_utc, "case_id": case_id, "number": number, "since": since})).one()
    unanswered_today, last_unanswered, third_party = int(row[0] or 0), row[1], int(row[2] or 0)

    lookback_start = now - _CONVERSATION_LOOKBACK
    debtor_rows = (await session.execute(_DEBTOR_ROWS, {"debtor_key": debtor_key,
                                                        "lookback_start": lookback_start})).all()
    attempts_7d = tuple(sorted(r.created_at for r in debtor_rows if r.created_at > ranges.rolling_7d_start_utc))
    connected_today = sum(1 for r in debtor_rows if r.answered_at is not None
                          and r.created_at >= ranges.day_start_utc)
    conversations = [r.created_at for r in debtor_rows if r.answered_at is not None and (
        (r.talk_seconds or 0) >= conversation_min_talk_s or r.outcome == "right_party_contact")]

    # the newest own attempts first, as far as the lookback reaches
    own = [r.answered_at for r in sorted((r for r in debtor_rows if r.number_kind == "own"),
                                         key=lambda r: r.created_at, reverse=True)][:_OWN_STREAK_LIMIT]
    if len(own) < _OWN_STREAK_LIMIT and all(a is None for a in own):
        older = (await session.execute(_OLDER_OWN, {"debtor_key": debtor_key,
                                                    "lookback_start": lookback_start})).scalars().all()
        own.extend(older[:_OWN_STREAK_LIMIT - len(own)])
    failed_own = 0
    for answered in own:
        if answered is not None:
            break
        failed_own += 1

    return LedgerCounts(
        unanswered_to_number_today=unanswered_today,
        last_unanswered_to_number_at=last_unanswered,
        connected_with_debtor_today=connected_today,
        debtor_attempts_7d=attempts_7d,
        last_conversation_at=max(conversations) if conversations else None,
        consecutive_failed_own_attempts=failed_own,
        third_party_calls_to_number=third_party,
    )
