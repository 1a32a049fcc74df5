"""The cases feature as the compliance gate's ``CaseDirectory`` (adapter to compliance's types).

Mapping decisions: mobile/home/work numbers are ``own``; a number that is not (or no longer) on the case is
treated as ``third_party`` with status ``invalid`` -- the strict reading (no collection from people
unrelated to the debt); an agreed window crossing midnight becomes two intervals on the same weekdays.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.dialinfo import CaseDialInfo as DialInfo
from cases.dialinfo import WindowInfo, dial_context, dial_context_row, dial_row_query
from cases.holds import holds_for
from cases.models import OWN_KINDS, Case, CaseContact, debtor_key_sql
from compliance.policy import DAY_NAMES
from compliance.policy_sql import PolicyFacts, policy_columns, policy_params
from compliance.serialise import lock_columns, lock_params
from compliance.service import CaseDialInfo
from compliance.windows import AgreedWindow

# The case row and, in the same round trip, the policy facts of its client and of the dialled number; on
# PostgreSQL also the dial's locks, the debtor's key computed from the row (compliance.serialise).
_DIAL_ROW_AND_POLICY = dial_row_query().add_columns(*policy_columns(Case.client_id))
_DIAL_ROW_POLICY_AND_LOCKS = _DIAL_ROW_AND_POLICY.add_columns(
    *lock_columns(debtor_key_sql(Case.client_id, Case.external_id)))


def _hhmm(t: time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def _window(w: WindowInfo, case_id: str) -> AgreedWindow:
    if w.start < w.end:
        intervals = [{"start": _hhmm(w.start), "end": _hhmm(w.end)}]
    else:
        intervals = [{"start": _hhmm(w.start), "end": "24:00"}, {"start": "00:00", "end": _hhmm(w.end)}]
        intervals = [i for i in intervals if i["start"] != i["end"]]
    return AgreedWindow.model_validate({
        "scope": w.scope, "scope_value": w.number if w.scope == "number" else case_id,
        "days": tuple(DAY_NAMES[d] for d in w.weekdays), "intervals": intervals, "zone": w.zone,
        "expires_at": w.expires_at, "recorded_by": "case", "agreed_on_call_id": w.agreed_on_call_id,
        "window_id": w.id, "evidence": w.evidence})


def _honoured(w: WindowInfo) -> bool:
    """Only windows with evidence and an expiry widen the calling window (older ones had neither)."""
    return w.evidence is not None and w.expires_at is not None


def _gate_info(info: DialInfo, *, facts: PolicyFacts | None, serialised: bool) -> CaseDialInfo:
    """The cases feature's facts in the gate's terms."""
    own = info.number_kind in OWN_KINDS
    return CaseDialInfo(
        client_id=info.client_id, batch_id=info.batch_id, debtor_key=info.debtor_key, case_id=info.case_id,
        case_status=info.case_status, holds=info.hold_reasons, number_kind="own" if own else "third_party",
        number_status=info.number_status or "invalid", third_party_objected=info.third_party_objected,
        case_zone=info.case_zone, address_zone=info.address_zone, number_zone=info.number_zone,
        agreed_windows=tuple(_window(w, info.case_id) for w in info.agreed_windows if _honoured(w)),
        own_numbers_all_invalid=info.own_numbers_all_invalid, policy_facts=facts, serialised=serialised,
        assigned_agent=info.assigned_agent, team=info.team, pooled=info.pooled, handed=info.handed,
    )


class CaseDirectoryAdapter:
    """Implements ``compliance.service.CaseDirectory`` over the cases tables."""

    async def dial_info(self, session: AsyncSession, *, case_id: str, number: str) -> CaseDialInfo | None:
        """Case and number facts for a dial, or None when the case does not exist.

        In the same round trip: the policy facts of the case's client and of the number and, on
        PostgreSQL, the dial's advisory locks (transaction-scoped; ``serialised``), as the gate takes them.
        """
        params = policy_params(number)
        facts, serialised = None, False
        if params is None:  # a number too long for the one-statement form: the gate reads the policy itself
            info = await dial_context(session, case_id=case_id, number=number)
        else:
            statement = _DIAL_ROW_AND_POLICY
            if session.get_bind().dialect.name == "postgresql":
                statement, params, serialised = _DIAL_ROW_POLICY_AND_LOCKS, {**params, **lock_params(number)}, True
            found = await dial_context_row(session, case_id=case_id, number=number, statement=statement,
                                           params=params)
            if found is None:
                return None
            info, facts = found[0], PolicyFacts.from_row(found[1])
        if info is None:
            return None
        return _gate_info(info, facts=facts, serialised=serialised)

    async def dial_infos_for_number(self, session: AsyncSession, *, number: str,
                                    client_ids: Collection[str] | None = None) -> list[CaseDialInfo]:
        """Every case (of ``client_ids``; None: all clients) listing ``number`` today, oldest first.

        No locks are taken here: the gate takes every debtor's and the number's together, in order.
        """
        q = (select(CaseContact.case_id).join(Case, Case.id == CaseContact.case_id)
             .where(CaseContact.number == number, CaseContact.removed_at.is_(None)))
        if client_ids is not None:
            q = q.where(Case.client_id.in_(sorted(client_ids)))
        out: list[CaseDialInfo] = []
        for case_id in (await session.scalars(q.order_by(Case.created_at, Case.id))).all():
            info = await dial_context(session, case_id=case_id, number=number)
            if info is not None:
                out.append(_gate_info(info, facts=None, serialised=False))
        return out

    async def active_holds(self, session: AsyncSession, case_id: str) -> list[str]:
        """Hold reasons currently on the case."""
        return await holds_for(session, case_id)

    async def case_status(self, session: AsyncSession, case_id: str) -> str | None:
        """The case's status, or None when there is no such case."""
        return await session.scalar(select(Case.status).where(Case.id == case_id))
