"""Where a customer's call to a presented number goes: pure decisions over facts read beside them
(``routing_sql.py``), so the walls and the order can be tested without a PBX.

The dialled presented number names the client (the bank); only that client's cases are matched by the
caller's number (never another bank's, even when the same person is a debtor of both). Then, in order:

1. the case's assigned agent, if available;
2. an available agent of the case's team (the one available longest);
3. the message: nobody could take the call. The callback it leaves is the assigned agent's, or the team's
   when the case has no agent or the number matches no case.

An unknown caller (no case of the client has the number) still reaches an available agent serving the client,
or the message. A number no client (or more than one client) presents matches nobody's cases: the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

OPEN_CASE = "active"


class RouteKind(StrEnum):
    """What the dial plan is told to do with the caller."""

    AGENT = "agent"
    MESSAGE = "message"


class RouteReason(StrEnum):
    """Why: the step of the order that decided."""

    ASSIGNED = "assigned"  # the case's assigned agent was available
    TEAM = "team"  # an available agent of the case's team
    CLIENT = "client"  # an unknown caller: an available agent serving the client
    NO_AGENT = "no_agent"  # nobody available: the message
    NOT_PRESENTED = "not_presented"  # the dialled number is no single client's presented number: the message
    UNROUTED = "unrouted"  # the service did not answer in time: the dial plan played the message by itself


@dataclass(frozen=True, slots=True)
class CaseMatch:
    """A case whose contact numbers include the caller's number."""

    case_id: str
    client_id: str
    assigned_agent: str | None
    team: str | None
    status: str
    debtor_key: str
    number_kind: str | None
    batch_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AgentCandidate:
    """An active agent with a phone: whom it serves, and whether presence says ``available`` (since when)."""

    agent_id: str
    sip_user: str
    team: str | None
    clients: frozenset[str]
    available: bool
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The decision: whom to ring (``agent``) or the message; the matched case; who owns the callback a missed
    call leaves (``callback_agent``, else ``callback_team``)."""

    kind: RouteKind
    reason: RouteReason
    client_id: str | None
    case: CaseMatch | None = None
    agent: AgentCandidate | None = None
    callback_agent: str | None = None
    callback_team: str | None = None


def owner_of(owners: Iterable[str]) -> str | None:
    """The client presenting the dialled number: the one client listing it; None for none or several."""
    clients = set(owners)
    return clients.pop() if len(clients) == 1 else None


def within_client(matches: Iterable[CaseMatch], client_id: str | None) -> list[CaseMatch]:
    """The wall: only cases of the client owning the dialled number (the SQL filters too; this says it again)."""
    return [m for m in matches if client_id is not None and m.client_id == client_id]


def _longest_available(agents: Iterable[AgentCandidate]) -> AgentCandidate | None:
    pool = sorted(agents, key=lambda a: (a.since is None, a.since or datetime.min.replace(tzinfo=UTC), a.agent_id))
    return pool[0] if pool else None


def pick_case(matches: Sequence[CaseMatch], available: set[str]) -> CaseMatch | None:
    """The case the call is about: open ones first, then one whose agent is available, then the latest."""
    if not matches:
        return None
    return sorted(matches, key=lambda m: (m.status != OPEN_CASE, m.assigned_agent not in available,
                                          -m.updated_at.timestamp(), m.case_id))[0]


def common_team(agents: Iterable[AgentCandidate], client_id: str) -> str | None:
    """The team of the client's agents when they are all one team (an unknown caller's callback goes there)."""
    teams = {a.team for a in agents if client_id in a.clients}
    return teams.pop() if len(teams) == 1 else None


def route(client_id: str | None, matches: Sequence[CaseMatch], agents: Sequence[AgentCandidate]) -> Route:
    """The decision for one inbound call (see the module docstring)."""
    if client_id is None:
        return Route(RouteKind.MESSAGE, RouteReason.NOT_PRESENTED, None)
    serving = [a for a in agents if client_id in a.clients]
    available = {a.agent_id: a for a in serving if a.available}
    case = pick_case(within_client(matches, client_id), set(available))
    if case is None:
        pick = _longest_available(available.values())
        team = common_team(serving, client_id)
        if pick is not None:
            return Route(RouteKind.AGENT, RouteReason.CLIENT, client_id, agent=pick, callback_team=team)
        return Route(RouteKind.MESSAGE, RouteReason.NO_AGENT, client_id, callback_team=team)
    assigned = case.assigned_agent
    team = case.team or next((a.team for a in serving if a.agent_id == assigned), None)
    if assigned is not None and assigned in available:
        return Route(RouteKind.AGENT, RouteReason.ASSIGNED, client_id, case, available[assigned], assigned, team)
    pick = _longest_available(a for a in available.values() if team is not None and a.team == team)
    if pick is not None:
        return Route(RouteKind.AGENT, RouteReason.TEAM, client_id, case, pick, assigned, team)
    return Route(RouteKind.MESSAGE, RouteReason.NO_AGENT, client_id, case, None, assigned, team)
