"""Ledger counts for the gate, computed with SQL from the dialer's call records.

An *attempt* is a placed call that reached the customer leg, or is still in flight (counted
conservatively until it ends). Calls that ended before the customer was dialled (the agent did
not answer, rejected, was unavailable) are not attempts to the customer. Blocked dials never
create a call, so they are never counted.

A transfer to an outside number is a dial too (dialer/transfers.py): its leg (``call_legs``, role
``outside``) is an attempt on the same terms (it rang, or it has not ended), counted with the calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.ledger import LedgerCounts, LedgerRanges
from db.base import UTCDateTime
from dialer.models import Call, CallLeg

_ATTEMPT = or_(Call.customer_ringing_at.is_not(None), Call.ended_at.is_(None))
_LEG_ATTEMPT = or_(CallLeg.ringing_at.is_not(None), CallLeg.ended_at.is_(None))
_CONVERSATION_LOOKBACK = timedelta(days=31)
_OWN_STREAK_LIMIT = 50

# The parts of the one ledger statement (its first column).
_DEBTOR, _NUMBER, _OLDER_OWN, _LEG_DEBTOR, _LEG_NUMBER = 0, 1, 2, 3, 4


def _part(n: int) -> Any:
    return literal_column(str(n), Integer()).label("part")


def _null(type_: Any, name: str) -> Any:
    return type_coerce(null(), type_).label(name)


def _ledger_statement() -> CompoundSelect[Any]:
    """All the ledger facts of one dial in one statement, five parts in a UNION ALL (first column ``part``).

    - ``_DEBTOR``: the debtor's attempts in the conversation lookback, one row each (``at`` = created_at,
      answered_at, talk_seconds, outcome, number_kind). First, so the columns take its types.
    - ``_NUMBER``: one row: ``n`` = the number's unanswered attempts since ``day_start``, ``at`` = the
      newest unanswered attempt since ``since``, ``m`` = the case's attempts to it as a third party
      (a NULL case_id matches no row: 0, as without a case).
    - ``_OLDER_OWN``: when no own attempt of the lookback was answered (the streak of failed own attempts
      may reach back past it), the newest 50 own attempts before the lookback (``at``, answered_at).
    - ``_LEG_DEBTOR`` and ``_LEG_NUMBER``: the same as ``_DEBTOR`` and ``_NUMBER`` for outside parties' legs
      (transfers to a number; no outcome of their own); the counts add up and the newest time wins.

    Each part is answered from one index (``ix_calls_debtor_ledger``, ``ix_calls_number_ledger``, and
    ``ix_call_legs_debtor_ledger``, ``ix_call_legs_number_ledger``) that holds every column it reads: no row
    of calls or legs is visited.
    """
    debtor = Call.debtor_key == bindparam("debtor_key")
    number = Call.number == bindparam("number")
    lookback_start = bindparam("lookback_start", type_=UTCDateTime())
    own = and_(debtor, Call.number_kind == "own", _ATTEMPT)
    debtor_rows = select(
        _part(_DEBTOR), Call.created_at.label("at"), Call.answered_at, Call.talk_seconds, Call.outcome,
        Call.number_kind, _null(Integer(), "n"), _null(Integer(), "m"),
    ).where(debtor, Call.created_at > lookback_start, _ATTEMPT)
    third_party = select(func.count()).select_from(Call).where(
        Call.case_id == bindparam("case_id"), number, Call.number_kind == "third_party", _ATTEMPT,
    ).scalar_subquery()
    number_row = select(
        _part(_NUMBER), type_coerce(func.max(Call.created_at), UTCDateTime()), null(), null(), null(), null(),
        func.count(case((Call.created_at >= bindparam("day_start", type_=UTCDateTime()), 1))), third_party,
    ).where(number, Call.created_at >= bindparam("since", type_=UTCDateTime()), _ATTEMPT,
            Call.answered_at.is_(None))
    older = select(Call.created_at, Call.answered_at).where(own, Call.created_at <= lookback_start) \
        .order_by(Call.created_at.desc()).limit(_OWN_STREAK_LIMIT).subquery()
    older_rows = select(
        _part(_OLDER_OWN), older.c.created_at, older.c.answered_at, null(), null(), null(), null(), null(),
    ).where(~select(literal_column("1")).where(own, Call.created_at > lookback_start,
                                              Call.answered_at.is_not(None)).exists())
    # outside parties' legs (transfers to a number), from the two ix_call_legs_*_ledger indexes
    leg_number = CallLeg.number == bindparam("number")
    leg_debtor_rows = select(
        _part(_LEG_DEBTOR), CallLeg.created_at, CallLeg.answered_at, CallLeg.talk_seconds, null(),
        CallLeg.number_kind, null(), null(),
    ).where(CallLeg.debtor_key == bindparam("debtor_key"), CallLeg.created_at > lookback_start, _LEG_ATTEMPT)
    leg_third_party = select(func.count()).select_from(CallLeg).where(
        CallLeg.case_id == bindparam("case_id"), leg_number, CallLeg.number_kind == "third_party", _LEG_ATTEMPT,
    ).scalar_subquery()
    leg_number_row = select(
        _part(_LEG_NUMBER), type_coerce(func.max(CallLeg.created_at), UTCDateTime()), null(), null(), null(),
        null(), func.count(case((CallLeg.created_at >= bindparam("day_start", type_=UTCDateTime()), 1))),
        leg_third_party,
    ).where(leg_number, CallLeg.created_at >= bindparam("since", type_=UTCDateTime()), _LEG_ATTEMPT,
            CallLeg.answered_at.is_(None))
    return union_all(debtor_rows, number_row, older_rows, leg_debtor_rows, leg_number_row)


# Built once with bind parameters: constructing the statement per dial cost more than running it.
_LEDGER = _ledger_statement()


async def ledger_counts(session: AsyncSession, *, number: str, debtor_key: str, case_id: str | None,
                        ranges: LedgerRanges, conversation_min_talk_s: float) -> LedgerCounts:
    """Everything ``compliance.gate.evaluate`` needs to know from the ledger (see compliance.ledger).

    One round trip (see ``_ledger_statement``): the number's counts, the debtor's attempts of the
    conversation lookback, from which the streak of failed own attempts is taken too, and the older own
    attempts when that streak may reach back past the lookback (it stops at 50).
    """
    now = ranges.now
    lookback_start = now - _CONVERSATION_LOOKBACK
    rows = (await session.execute(_LEDGER, {
        "debtor_key": debtor_key, "lookback_start": lookback_start, "number": number, "case_id": case_id,
        "day_start": ranges.day_start_utc, "since": min(ranges.day_start_utc, now - timedelta(days=1)),
    })).all()
    debtor_rows = [r for r in rows if r.part in (_DEBTOR, _LEG_DEBTOR)]
    number_rows = [r for r in rows if r.part in (_NUMBER, _LEG_NUMBER)]
    unanswered_today = sum(int(r.n or 0) for r in number_rows)
    last_unanswered = max((r.at for r in number_rows if r.at is not None), default=None)
    third_party = sum(int(r.m or 0) for r in number_rows)

    attempts_7d = tuple(sorted(r.at for r in debtor_rows if r.at > ranges.rolling_7d_start_utc))
    connected_today = sum(1 for r in debtor_rows if r.answered_at is not None and r.at >= ranges.day_start_utc)
    conversations = [r.at for r in debtor_rows if r.answered_at is not None and (
        (r.talk_seconds or 0) >= conversation_min_talk_s or r.outcome == "right_party_contact")]

    # the newest own attempts first: those of the lookback, then (if read) the older ones
    own: list[datetime | None] = [r.answered_at for r in _newest_first(r for r in debtor_rows
                                                                       if r.number_kind == "own")]
    if len(own) < _OWN_STREAK_LIMIT and all(a is None for a in own):
        own.extend(r.answered_at for r in _newest_first(r for r in rows if r.part == _OLDER_OWN))
    failed_own = 0
    for answered in own[:_OWN_STREAK_LIMIT]:
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


def _newest_first(rows: Any) -> list[Any]:
    return sorted(rows, key=lambda r: r.at, reverse=True)
