"""The routing decisions of inbound calls, pure: the walls between banks and the order assigned -> team -> message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inbound.routing import (
    AgentCandidate,
    CaseMatch,
    RouteKind,
    RouteReason,
    common_team,
    owner_of,
    pick_case,
    route,
    within_client,
)

T0 = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)  # 21:30: answering is allowed (the gate limits calls *to* debtors)


def case(cid: str, client: str = "bank-a", agent: str | None = "alice", team: str | None = "t1", *,
         status: str = "active", age: int = 0) -> CaseMatch:
    return CaseMatch(case_id=cid, client_id=client, assigned_agent=agent, team=team, status=status,
                     debtor_key=f"{client}:{cid}", number_kind="mobile", batch_id=None,
                     updated_at=T0 - timedelta(days=age))


def agent(aid: str, team: str | None = "t1", clients: tuple[str, ...] = ("bank-a",), *, available: bool = True,
          since: int = 60) -> AgentCandidate:
    return AgentCandidate(agent_id=aid, sip_user=f"sip-{aid}", team=team, clients=frozenset(clients),
                          available=available, since=T0 - timedelta(seconds=since))


ALICE, CARL, DORA = agent("alice"), agent("carl", since=30), agent("dora", since=300)
BOB = agent("bob", team="t1", clients=("bank-b",), since=9999)  # bank-b's agent, in a team of the same name


def test_the_dialled_number_names_one_client_or_none() -> None:
    assert owner_of(["bank-a"]) == "bank-a"
    assert owner_of(["bank-a", "bank-a"]) == "bank-a"
    assert owner_of([]) is None
    assert owner_of(["bank-a", "bank-b"]) is None  # presented by two banks: nobody's cases are matched


def test_the_assigned_agent_first_when_available() -> None:
    decision = route("bank-a", [case("c1")], [ALICE, CARL, DORA])
    assert (decision.kind, decision.reason, decision.agent, decision.case) == (
        RouteKind.AGENT, RouteReason.ASSIGNED, ALICE, case("c1"))
    assert (decision.callback_agent, decision.callback_team) == ("alice", "t1")


def test_then_the_team_s_agent_available_longest() -> None:
    paused = agent("alice", available=False)
    decision = route("bank-a", [case("c1")], [paused, CARL, DORA])
    assert (decision.kind, decision.reason, decision.agent) == (RouteKind.AGENT, RouteReason.TEAM, DORA)
    assert decision.callback_agent == "alice"  # a missed call would still leave the callback with her


def test_then_the_message_with_the_callback_for_the_assigned_agent_or_the_team() -> None:
    nobody = [agent("alice", available=False), agent("carl", available=False), agent("erin", team="t2")]
    decision = route("bank-a", [case("c1")], nobody)
    assert (decision.kind, decision.reason, decision.agent) == (RouteKind.MESSAGE, RouteReason.NO_AGENT, None)
    assert (decision.callback_agent, decision.callback_team) == ("alice", "t1")  # not erin's team
    unassigned = route("bank-a", [case("c2", agent=None)], nobody)
    assert (unassigned.kind, unassigned.callback_agent, unassigned.callback_team) == (RouteKind.MESSAGE, None, "t1")


def test_walls_a_number_of_two_banks_matches_only_the_bank_owning_the_dialled_number() -> None:
    # the same person owes bank-a (alice's case) and bank-b (bob's case); bob is available, alice is not
    both = [case("a1", "bank-a", "alice"), case("b1", "bank-b", "bob")]
    agents = [agent("alice", available=False), BOB]
    assert within_client(both, "bank-a") == [case("a1", "bank-a", "alice")]
    assert within_client(both, None) == []
    decision = route("bank-a", both, agents)
    assert decision.case is not None and decision.case.case_id == "a1"
    assert decision.agent is None and decision.kind is RouteKind.MESSAGE  # never bob, who does not serve bank-a
    assert decision.callback_agent == "alice"
    # dialled bank-b's number: bank-b's case and agent
    other = route("bank-b", both, agents)
    assert (other.case, other.agent, other.reason) == (case("b1", "bank-b", "bob"), BOB, RouteReason.ASSIGNED)


def test_a_team_of_the_same_name_at_another_bank_is_not_the_case_s_team() -> None:
    decision = route("bank-a", [case("c1")], [agent("alice", available=False), BOB])
    assert decision.kind is RouteKind.MESSAGE and decision.agent is None


def test_an_unknown_caller_reaches_an_agent_serving_the_client_or_the_message_for_the_team() -> None:
    decision = route("bank-a", [], [ALICE, CARL, BOB])
    assert (decision.kind, decision.reason, decision.agent, decision.case) == (
        RouteKind.AGENT, RouteReason.CLIENT, ALICE, None)
    assert (decision.callback_agent, decision.callback_team) == (None, "t1")
    nobody = route("bank-a", [], [agent("alice", available=False), BOB])
    assert (nobody.kind, nobody.reason, nobody.callback_team) == (RouteKind.MESSAGE, RouteReason.NO_AGENT, "t1")


def test_a_number_nobody_presents_goes_to_the_message_and_matches_no_case() -> None:
    decision = route(None, [case("c1")], [ALICE])
    assert (decision.kind, decision.reason, decision.case, decision.client_id) == (
        RouteKind.MESSAGE, RouteReason.NOT_PRESENTED, None, None)


def test_the_case_a_call_is_about_open_first_then_an_available_agent_then_the_latest() -> None:
    closed = case("old", status="closed", age=0)
    mine = case("mine", agent="carl", age=5)
    latest = case("latest", agent="alice", age=1)
    assert pick_case([closed, mine, latest], {"carl"}) == mine
    assert pick_case([closed, mine, latest], set()) == latest
    assert pick_case([closed], set()) == closed
    assert pick_case([], {"carl"}) is None


def test_the_team_of_an_unknown_caller_s_callback_is_the_client_s_only_team() -> None:
    assert common_team([ALICE, CARL, BOB], "bank-a") == "t1"
    assert common_team([ALICE, agent("erin", team="t2")], "bank-a") is None
    assert common_team([BOB], "bank-a") is None
