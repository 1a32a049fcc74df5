"""The compliance gate wired to the database: context from the case, counts from the ledger,
the pure ``evaluate``, and an append-only decision log, all inside the dial's transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.scope import Scope
from auth.service import Principal
from compliance.decision import ENDED_CASE_STATUSES, Decision, DialContext, OverrideRequest
from compliance.errors import CallBlockedError, ManualDialNotAllowed, NoSuchCase
from compliance.explain import explain
from compliance.gate import evaluate, evaluate_cases, ranges_for
from compliance.ledger_sql import ledger_counts
from compliance.models import EVERY_CLIENT, ClientPolicy, ComplianceDecision, DoNotCall
from compliance.policy import HARD_STOPS, Policy, merge_strictest
from compliance.policy_sql import PolicyFacts, read_policy_facts
from compliance.profiles import get_profile
from compliance.serialise import lock_statement
from compliance.windows import AgreedWindow
from config.settings import ComplianceSettings, DialerSettings
from core.clock import Clock, iso_or_none
from core.events import DomainEvent, EventLog
from db.base import new_id
from db.engine import Database
from dialer.events import CALL_BLOCKED
from dialer.gate import DialRequest, GateDecision

#: who may dial a number that belongs to no case (a manual dial, logged as such)
MANUAL_DIAL_ROLES: frozenset[str] = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class CaseDialInfo:
    """What the gate needs to know about a case and the dialled number (from the cases feature)."""

    client_id: str | None
    batch_id: str | None
    debtor_key: str
    case_id: str | None = None
    case_status: str = "active"
    holds: tuple[str, ...] = ()
    number_kind: str = "own"
    number_status: str = "valid"
    third_party_objected: bool = False
    case_zone: str | None = None
    address_zone: str | None = None
    number_zone: str | None = None
    agreed_windows: tuple[AgreedWindow, ...] = ()
    own_numbers_all_invalid: bool = False
    # the client's policy and the number's do-not-call facts, when the directory read them in the same round
    # trip (see compliance.policy_sql); None: the gate reads them itself
    policy_facts: PolicyFacts | None = None
    # True when the directory took the dial's locks (compliance.serialise.lock_columns) in the same round trip
    serialised: bool = False
    # who the case is assigned to: a dial naming the case must be by someone who may see it (auth.scope)
    assigned_agent: str | None = None
    team: str | None = None
    pooled: bool = False  # the case's client pools its teams' unassigned cases
    handed: bool = False  # a due callback of the case was handed to its team


class CaseDirectory(Protocol):
    """Where cases live (the cases feature implements it)."""

    async def dial_info(self, session: AsyncSession, *, case_id: str, number: str) -> CaseDialInfo | None:
        """Case and number facts for a dial, or None when the case does not exist."""
        ...

    async def dial_infos_for_number(self, session: AsyncSession, *, number: str,
                                    client_ids: Collection[str] | None = None) -> list[CaseDialInfo]:
        """The facts of every case (of ``client_ids``; None: every client) listing ``number``, oldest first."""
        ...

    async def active_holds(self, session: AsyncSession, case_id: str) -> list[str]:
        """Hold reasons currently on the case."""
        ...

    async def case_status(self, session: AsyncSession, case_id: str) -> str | None:
        """The case's status (``active``, ``closed``...), or None when there is no such case."""
        ...


class NoCases:
    """A directory with no cases (until the cases feature is wired)."""

    async def dial_info(self, session: AsyncSession, *, case_id: str, number: str) -> CaseDialInfo | None:
        """No case exists."""
        return None

    async def dial_infos_for_number(self, session: AsyncSession, *, number: str,
                                    client_ids: Collection[str] | None = None) -> list[CaseDialInfo]:
        """No case holds any number."""
        return []

    async def active_holds(self, session: AsyncSession, case_id: str) -> list[str]:
        """No holds."""
        return []

    async def case_status(self, session: AsyncSession, case_id: str) -> str | None:
        """No case."""
        return None


@dataclass
class ComplianceGate:
    """Implements ``dialer.gate.DialGate``."""

    db: Database
    events: EventLog
    settings: ComplianceSettings
    dialer: DialerSettings
    clock: Clock
    cases: CaseDirectory = field(default_factory=NoCases)

    async def check(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        """Decide, log the decision, and (when blocked) record ``call.blocked``.

        Without ``case_id`` the number is looked up across every case: each case holding it is decided
        (its holds, number facts and per-debtor caps) under the strictest of their clients' policies. A
        number of no case is a manual dial: supervisors and admins only, logged as ``manual``.
        """
        if request.case_id is None:
            infos = await self.cases.dial_infos_for_number(session, number=request.number, client_ids=None)
            if infos:
                return await self._check_number(session, request, infos)
            return await self._check_manual(session, request)
        info = await self._case_info(session, request)
        decision = await self._decide_one(session, request, info)
        return await self._finish(session, request, info, decision, mode="case")

    async def _decide_one(self, session: AsyncSession, request: DialRequest, info: CaseDialInfo) -> Decision:
        """The decision for one case (or, manual, none), under its client's policy."""
        policy = await self._policy(session, info, request.number)
        ctx = self._context(request, info)
        ranges = ranges_for(ctx, policy, request.now)
        if not info.serialised:
            await self._serialise(session, request.number, [info.debtor_key])
        counts = await ledger_counts(session, number=request.number, debtor_key=info.debtor_key,
                                     case_id=info.case_id, ranges=ranges,
                                     conversation_min_talk_s=self.settings.conversation_min_talk_s)
        return evaluate(ctx, policy, counts, request.now)

    async def _check_manual(self, session: AsyncSession, request: DialRequest) -> GateDecision:
        """A number of no case: a supervisor's (or admin's) manual dial under the default policy."""
        role = request.principal.role.value
        if role not in MANUAL_DIAL_ROLES:
            raise ManualDialNotAllowed(
                f"{request.number} belongs to no case; only a supervisor or admin may dial it manually "
                "(name the case to dial it as an agent)",
                details={"number": request.number, "role": role, "allowed_roles": sorted(MANUAL_DIAL_ROLES)})
        info = CaseDialInfo(client_id=None, batch_id=None, debtor_key=f"number:{request.number}")
        decision = await self._decide_one(session, request, info)
        decision = decision.model_copy(update={
            "message": f"Manual dial by {request.principal.user_id} ({role}): {request.number} belongs to no "
                       f"case. {decision.message}"})
        return await self._finish(session, request, info, decision, mode="manual")

    async def _check_number(self, session: AsyncSession, request: DialRequest,
                            infos: list[CaseDialInfo]) -> GateDecision:
        """Every case holding the number, decided under the strictest of their clients' policies."""
        policies = [await self._policy(session, info, request.number) for info in infos]
        policy = merge_strictest(list({p.id: p for p in policies}.values()))
        await self._serialise(session, request.number, [info.debtor_key for info in infos])
        dials = []
        for info in infos:
            ctx = self._context(request, info)
            counts = await ledger_counts(session, number=request.number, debtor_key=info.debtor_key,
                                         case_id=info.case_id, ranges=ranges_for(ctx, policy, request.now),
                                         conversation_min_talk_s=self.settings.conversation_min_talk_s)
            dials.append((ctx, counts))
        decision = evaluate_cases(dials, policy, request.now,
                                  clients={info.case_id or "": info.client_id for info in infos})
        # one case: the call is that case's (its debtor's caps count it); several: the number's own
        clients = {info.client_id for info in infos}
        target = infos[0] if len(infos) == 1 else CaseDialInfo(
            client_id=clients.pop() if len(clients) == 1 else None, batch_id=None,
            debtor_key=f"number:{request.number}",
            number_kind="third_party" if any(i.number_kind == "third_party" for i in infos) else "own")
        return await self._finish(session, request, target, decision, mode="number")

    async def _finish(self, session: AsyncSession, request: DialRequest, info: CaseDialInfo, decision: Decision,
                      *, mode: str) -> GateDecision:
        """Log the decision (kind ``dial``, ``manual`` or ``check``), record ``call.blocked``, answer."""
        decision.details["dial"] = mode
        kind = "check" if request.dry_run else "manual" if mode == "manual" else "dial"
        decision_id = await self._log(session, request, info, decision, kind=kind)
        error = None
        if not decision.allowed:
            error = blocked_error(decision, decision_id)
            if not request.dry_run:
                await self.events.record(session, DomainEvent(
                    type=CALL_BLOCKED, case_id=info.case_id, agent_id=request.agent_id,
                    client_id=info.client_id, occurred_at=request.now,
                    payload={"decision_id": decision_id, "agent_id": request.agent_id, "case_id": info.case_id,
                             "code": decision.code, "rule_ids": decision.rule_ids,
                             "next_allowed_at": iso_or_none(decision.next_allowed_at)},
                ))
        return GateDecision(allowed=decision.allowed, decision_id=decision_id, error=error,
                            client_id=info.client_id, batch_id=info.batch_id, debtor_key=info.debtor_key,
                            number_kind=info.number_kind, case_id=info.case_id,
                            body=decision_body(decision, decision_id))

    async def check_before_customer(self, session: AsyncSession, *, call_id: str, case_id: str | None,
                                    now: datetime) -> str | None:
        """When the agent answers: a hold that arrived, or the case that ended (closed, paid, returned,
        recalled), while the phone rang stops the customer leg."""
        if case_id is None:
            return None
        status = await self.cases.case_status(session, case_id)
        if status in ENDED_CASE_STATUSES:
            return f"case-{status}"
        holds = await self.cases.active_holds(session, case_id)
        policy_blocking = [h for h in holds if h in HARD_STOPS or h in ("hardship", "illness", "pregnancy")]
        return "case-on-hold" if policy_blocking else None

    # -- policy -----------------------------------------------------------------------------------
    async def policy_for(self, session: AsyncSession, client_id: str | None, *, number: str | None = None) -> Policy:
        """The effective policy: the client's jurisdiction profile tightened by the client's own rules,
        plus the global do-not-call list.

        With ``number`` (a dial), one query reads the client's row and, from the do-not-call list by
        primary key, whether the number itself is listed and the first (shortest) listed prefix it starts
        with: they decide that dial, and name the same prefix, exactly as the whole list would. Without
        it (showing a policy), the row and the whole list.
        """
        if number is not None:
            return self._effective(client_id, await read_policy_facts(session, client_id, number), number)
        row = await session.get(ClientPolicy, client_id) if client_id is not None else None
        found = (row.jurisdiction, row.policy) if row is not None else None
        listed = select(DoNotCall.value, DoNotCall.kind)
        if client_id is not None:
            listed = listed.where(DoNotCall.client_id.in_([EVERY_CLIENT, client_id]))
        dnc = [(v, k) for v, k in (await session.execute(listed)).all()]
        return self._merged(client_id, found, dnc)

    async def _policy(self, session: AsyncSession, info: CaseDialInfo, number: str) -> Policy:
        """The policy of a dial, from the facts the directory read with the case or (if it did not) read here."""
        facts = info.policy_facts
        if facts is None:
            facts = await read_policy_facts(session, info.client_id, number)
        return self._effective(info.client_id, facts, number)

    def _effective(self, client_id: str | None, facts: PolicyFacts, number: str) -> Policy:
        found = (facts.jurisdiction, facts.rules) if facts.jurisdiction is not None else None
        dnc = ([(number, "exact")] if facts.listed else []) + ([(facts.prefix, "prefix")] if facts.prefix else [])
        return self._merged(client_id, found, dnc)

    def _merged(self, client_id: str | None, found: tuple[str, Any] | None,
                dnc: list[tuple[str, str]]) -> Policy:
        base = get_profile(self.settings.default_profile)
        if client_id is not None and found is not None:
            jurisdiction, rules = found
            profile = get_profile(jurisdiction)
            # the client's rules tighten its profile field by field: a field the client does not name keeps the
            # profile's value (not the Policy model's default, which would bring CN hours into a DEMO client)
            own = Policy.model_validate({**profile.model_dump(), **rules, "id": f"client:{client_id}",
                                         "name": rules.get("name", client_id)})
            base = merge_strictest([profile, own]) if rules else profile
        if dnc:
            base = base.model_copy(update={
                "do_not_call_numbers": base.do_not_call_numbers | {v for v, k in dnc if k == "exact"},
                "do_not_call_prefixes": base.do_not_call_prefixes | {v for v, k in dnc if k == "prefix"},
            })
        return base

    # -- helpers ----------------------------------------------------------------------------------
    async def _case_info(self, session: AsyncSession, request: DialRequest) -> CaseDialInfo:
        assert request.case_id is not None
        info = await self.cases.dial_info(session, case_id=request.case_id, number=request.number)
        if info is None or not self._may_dial(request, info):
            # a case the caller may not see is answered exactly like one that does not exist
            raise NoSuchCase(f"no case {request.case_id}", details={"case_id": request.case_id})
        return info if info.case_id is not None else replace(info, case_id=request.case_id)

    @staticmethod
    def _may_dial(request: DialRequest, info: CaseDialInfo) -> bool:
        """The caller may see the case (``auth.scope``): an agent its assigned cases, a team's supervisor
        the team's, others their clients'."""
        if info.client_id is None:
            return True
        return Scope.of(request.principal).sees_case(client_id=info.client_id, team=info.team,
                                                     assigned_agent=info.assigned_agent, pooling=info.pooled,
                                                     handed=info.handed)

    def _context(self, request: DialRequest, info: CaseDialInfo) -> DialContext:
        override = None
        if request.override_reason:
            override = OverrideRequest(role=request.principal.role.value, reason=request.override_reason,
                                       requested_by=request.principal.user_id)
        return DialContext.model_validate({
            "number": request.number, "number_kind": "third_party" if info.number_kind == "third_party" else "own",
            "third_party_objected": info.third_party_objected,
            "case_id": info.case_id or info.debtor_key, "holds": info.holds,
            "case_status": info.case_status,
            "number_status": info.number_status, "case_zone": info.case_zone, "address_zone": info.address_zone,
            "number_zone": info.number_zone, "agreed_windows": info.agreed_windows,
            "own_numbers_all_invalid": info.own_numbers_all_invalid, "override": override,
        })

    async def _serialise(self, session: AsyncSession, number: str, debtor_keys: list[str]) -> None:
        """Two dials to the same debtor or number never pass a cap together (see compliance.serialise)."""
        if self.db.is_sqlite:
            return
        await session.execute(*lock_statement(number, *debtor_keys))

    async def _log(self, session: AsyncSession, request: DialRequest, info: CaseDialInfo, decision: Decision,
                   *, kind: str) -> str:
        """Append the decision to the log (one Core INSERT, no ORM unit of work); its id."""
        principal: Principal = request.principal
        decision_id = new_id()
        await session.execute(_INSERT_DECISION, {
            "id": decision_id, "at": request.now, "kind": kind, "actor": principal.user_id,
            "actor_role": principal.role.value, "agent_id": request.agent_id, "case_id": info.case_id,
            "client_id": info.client_id, "number": request.number,
            "call_id": request.call_id if decision.allowed and not request.dry_run else None,
            "allowed": decision.allowed, "code": decision.code, "rule_ids": list(decision.rule_ids),
            "zones": [z.model_dump() for z in decision.zones], "next_allowed_at": decision.next_allowed_at,
            "overridden": decision.overridden, "override_reason": decision.override_reason,
            "policy_id": decision.policy_id, "message": decision.message, "details": decision.to_dict()["details"],
        })
        return decision_id


# built once (constructing statements per dial costs more than running them): the decision log's INSERT
_INSERT_DECISION = insert(cast(Table, ComplianceDecision.__table__))


def decision_body(decision: Decision, decision_id: str) -> dict[str, Any]:
    """The public explanation of a decision (API answers and the decision log share it)."""
    data = decision.to_dict()
    return {
        "decision_id": decision_id, "allowed": decision.allowed, "code": decision.code,
        "message": decision.message, "rule_ids": decision.rule_ids, "zones": data["zones"],
        "next_allowed_at": data["next_allowed_at"], "overridden": decision.overridden,
        "override_reason": decision.override_reason, "policy_id": decision.policy_id,
        "blocks": data["details"].get("blocks", []),
        "agreed_windows": data["details"].get("agreed_windows", []),
        "messages": {"zh-CN": explain(decision, "zh-CN"), "en": decision.message},
    }


def blocked_error(decision: Decision, decision_id: str) -> CallBlockedError:
    """The 409 for a blocked decision."""
    body = decision_body(decision, decision_id)
    return CallBlockedError(decision.message, code=decision.code or "blocked", details=body,
                            texts=body["messages"])
