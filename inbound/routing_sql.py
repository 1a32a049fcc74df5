"""The facts ``routing.route`` decides on: who presents the dialled number, the client's cases with the
caller's number, the agents serving the client and their presence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Role, User
from cases.models import Case, CaseContact, debtor_key
from dialer.models import PresentedNumber
from inbound.routing import AgentCandidate, CaseMatch
from presence.models import AgentPresence
from presence.service import facts_of
from presence.states import AgentFacts, AgentState, derive


async def owners(session: AsyncSession, dialled: str) -> list[str]:
    """The clients listing ``dialled`` among their presented numbers."""
    return list((await session.scalars(select(PresentedNumber.client_id).where(
        PresentedNumber.number == dialled))).all())


async def cases_with_number(session: AsyncSession, client_id: str, number: str) -> list[CaseMatch]:
    """The client's cases (and only the client's) having ``number`` among their contacts."""
    rows = (await session.execute(select(Case, CaseContact.kind).join(CaseContact, CaseContact.case_id == Case.id)
                                  .where(Case.client_id == client_id, CaseContact.number == number))).all()
    return [CaseMatch(case_id=c.id, client_id=c.client_id, assigned_agent=c.assigned_agent, team=c.team,
                      status=c.status, debtor_key=debtor_key(c.client_id, c.external_id), number_kind=kind,
                      batch_id=c.batch_id, updated_at=c.updated_at) for c, kind in rows]


async def agents_serving(session: AsyncSession, client_id: str, now: datetime) -> list[AgentCandidate]:
    """Active agents with a phone serving ``client_id``, with presence's state now (never heard of: available)."""
    rows = (await session.execute(select(User, AgentPresence).outerjoin(
        AgentPresence, AgentPresence.agent_id == User.id).where(
        User.role == Role.AGENT.value, User.active.is_(True), User.sip_user.is_not(None)))).all()
    out = []
    for user, row in rows:
        if client_id not in (user.clients or ()):
            continue
        state = derive(facts_of(row) if row is not None else AgentFacts(), now).state
        out.append(AgentCandidate(agent_id=user.id, sip_user=user.sip_user or "", team=user.team,
                                  clients=frozenset(user.clients or ()), available=state is AgentState.AVAILABLE,
                                  since=row.since if row is not None else None))
    return out
