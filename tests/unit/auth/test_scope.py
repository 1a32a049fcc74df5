"""The data scope of each role: clients, team and own-agent walls."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import sqlite

from auth.models import Role
from auth.scope import Scope
from auth.service import Principal

_T = Table("t", MetaData(), Column("client_id", String))


def _sql(stmt: object) -> str:
    return str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]


def test_global_admin_sees_every_client_and_objects_of_none() -> None:
    s = Scope.of(Principal("root", Role.ADMIN))
    assert s.clients is None and s.is_everything
    assert s.sees_client("bank-a") and s.sees_client(None)
    assert "WHERE" not in _sql(s.where_client(select(_T), _T.c.client_id))


def test_client_admin_manager_qa_integration_see_only_their_clients() -> None:
    for role in (Role.ADMIN, Role.MANAGER, Role.QA, Role.INTEGRATION):
        s = Scope.of(Principal("u", role, clients=frozenset({"bank-a"})))
        assert s.clients == frozenset({"bank-a"}) and s.team is None and s.agent is None
        assert s.sees_client("bank-a") and not s.sees_client("bank-b") and not s.sees_client(None)
        assert "t.client_id IN ('bank-a')" in _sql(s.where_client(select(_T), _T.c.client_id))


def test_supervisor_keeps_its_team_and_agent_its_own_name() -> None:
    sup = Scope.of(Principal("s1", Role.SUPERVISOR, team="red", clients=frozenset({"bank-a"})))
    assert (sup.team, sup.agent) == ("red", None)
    agent = Scope.of(Principal("agent1", Role.AGENT, team="red", clients=frozenset({"bank-a"})))
    assert (agent.team, agent.agent) == ("red", "agent1") and not agent.is_everything


def test_a_user_with_no_client_sees_nothing() -> None:
    s = Scope.of(Principal("m", Role.MANAGER))
    assert s.clients == frozenset() and not s.sees_client("bank-a")
    assert "1 != 1" in _sql(s.where_client(select(_T), _T.c.client_id)) or "0 = 1" in _sql(
        s.where_client(select(_T), _T.c.client_id))


def test_visible_clients_cuts_a_request_down_to_the_scope() -> None:
    s = Scope.of(Principal("m", Role.MANAGER, clients=frozenset({"bank-a", "bank-b"})))
    assert s.visible_clients(["bank-b", "bank-c"]) == frozenset({"bank-b"})
    assert s.visible_clients(None) == frozenset({"bank-a", "bank-b"})
    assert Scope.everything().visible_clients(["x"]) == frozenset({"x"})
