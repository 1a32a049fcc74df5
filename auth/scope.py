"""Who may see what: the data scope of a principal, applied by every service (never by handlers).

The walls, from the outside in:
- **clients**: a user serves one or more clients (banks); only a global admin (an admin with no client)
  serves every client. An object of another client is answered exactly like one that does not exist (404).
- **team**: a supervisor with a team sees that team's agents, calls and cases; one without a team oversees
  every team of its clients.
- **agent**: an agent sees its own calls and the cases assigned to it (and its team's unassigned pool
  where the client allows pooling, and its team's cases whose due callback was handed to the team after the
  client's grace).
Managers, QA and integrations see everything of their clients; an integration serves exactly one client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, true

from auth.models import Role
from auth.service import Principal

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class Scope:
    """The slice of the data one principal may see; ``clients=None`` means every client."""

    clients: frozenset[str] | None
    team: str | None = None
    agent: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        """The scope of ``principal`` (see the module docstring for the rules)."""
        clients = None if principal.is_global else frozenset(principal.clients)
        if principal.role is Role.AGENT:
            return cls(clients=clients, team=principal.team, agent=principal.user_id)
        if principal.role is Role.SUPERVISOR:
            return cls(clients=clients, team=principal.team)
        return cls(clients=clients)

    @classmethod
    def everything(cls) -> Scope:
        """The system's own scope (background jobs, the PBX's events, the CLI run by the operator)."""
        return cls(clients=None)

    @property
    def is_everything(self) -> bool:
        """True when nothing is filtered."""
        return self.clients is None and self.team is None and self.agent is None

    def sees_client(self, client_id: str | None) -> bool:
        """May this scope see objects of ``client_id``? Objects of no client only by a global scope."""
        if self.clients is None:
            return True
        return client_id is not None and client_id in self.clients

    def visible_clients(self, wanted: Iterable[str] | None = None) -> frozenset[str] | None:
        """The clients to read: ``wanted`` cut down to the scope (``None``: every client the scope sees)."""
        if wanted is None:
            return self.clients
        wanted_set = frozenset(wanted)
        return wanted_set if self.clients is None else wanted_set & self.clients

    def client_clause(self, column: Any) -> ColumnElement[bool]:
        """SQL: ``column`` is one of the scope's clients (always true for a global scope)."""
        if self.clients is None:
            return true()
        if not self.clients:
            return false()
        return column.in_(sorted(self.clients))  # type: ignore[no-any-return]

    def where_client(self, stmt: S, column: Any) -> S:
        """``stmt`` restricted to the scope's clients."""
        return stmt if self.clients is None else stmt.where(self.client_clause(column))

    def sees_case(self, *, client_id: str, team: str | None, assigned_agent: str | None,
                  pooling: bool = False, handed: bool = False) -> bool:
        """May this scope see a case? Its client, then (supervisors) its team, then (agents) its assignment:
        an agent sees the cases assigned to it, its team's unassigned ones where the client pools, and its
        team's cases with a due callback handed to the team (``handed``)."""
        if not self.sees_client(client_id):
            return False
        if self.agent is not None:
            in_team = self.team is not None and team == self.team
            return assigned_agent == self.agent or (pooling and assigned_agent is None and in_team) or (
                handed and in_team)
        return self.team is None or team == self.team

    def case_clause(self, client: Any, team: Any, assigned_agent: Any, pooled: ColumnElement[bool] | None = None,
                    handed: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
        """SQL form of :meth:`sees_case` over the case's columns (``pooled``: the client pools; ``handed``: the
        case has a due callback handed to its team)."""
        clause = self.client_clause(client)
        if self.agent is not None:
            mine = assigned_agent == self.agent
            if pooled is not None and self.team is not None:
                mine = or_(mine, and_(pooled, assigned_agent.is_(None), team == self.team))
            if handed is not None and self.team is not None:
                mine = or_(mine, and_(handed, team == self.team))
            return and_(clause, mine)
        if self.team is not None:
            return and_(clause, team == self.team)
        return clause

    def sees_call(self, *, client_id: str | None, team: str | None, agent_id: str,
                  requested_by: str | None = None, me: str | None = None) -> bool:
        """May this scope see a call? An agent its own; a team supervisor its team's; others their
        clients'. A call of no client (a manual dial) is seen by a global scope and by who requested it."""
        if self.agent is not None:
            return agent_id == self.agent
        if client_id is None:
            return self.clients is None or (me is not None and requested_by == me)
        if not self.sees_client(client_id):
            return False
        return self.team is None or team == self.team

    def call_clause(self, client: Any, team: Any, agent: Any, requested_by: Any,
                    me: str | None = None) -> ColumnElement[bool]:
        """SQL form of :meth:`sees_call` over the call's columns."""
        if self.agent is not None:
            return agent == self.agent  # type: ignore[no-any-return]
        if self.clients is None and self.team is None:
            return true()
        own: ColumnElement[bool] = requested_by == me if me is not None else false()
        theirs = self.client_clause(client)
        if self.team is not None:
            theirs = and_(theirs, team == self.team)
        return or_(and_(client.isnot(None), theirs), and_(client.is_(None), own) if self.clients is not None
                   else client.is_(None))
