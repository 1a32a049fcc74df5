"""The compliance gate: one pure function in front of every dial, manual click-to-dial included.

``evaluate`` runs every rule, reports every blocking rule, picks the primary code by severity
(hold, do-not-call, third party, unknown zone, holiday, hours, frequency) and computes
``next_allowed_at``: the earliest instant at which all time-based blocks have cleared (assuming no
new attempts are made in between), or None when a block that time cannot clear applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from compliance.decision import (
    OVERRIDE_ROLES,
    SEVERITY,
    Block,
    Decision,
    DialContext,
    ZoneInfoOut,
    fmt_instant,
)
from compliance.ledger import LedgerCounts, LedgerRanges, ledger_ranges
from compliance.policy import Policy
from compliance.rules import (
    calling_window,
    case_status,
    do_not_call,
    frequency,
    holds,
    third_party,
    unknown_timezone,
)
from compliance.timezones import ZoneResolution, resolve_zones
from compliance.windows import AgreedWindow, WindowResult, window_open


def resolve_context_zones(ctx: DialContext, policy: Policy) -> ZoneResolution:
    """Candidate zones of the callee of ``ctx`` under ``policy`` (cached)."""
    return resolve_zones(ctx.number, case_zone=ctx.case_zone, address_zone=ctx.address_zone,
                         number_zone=ctx.number_zone, unknown=policy.unknown_timezone)


def ranges_for(ctx: DialContext, policy: Policy, now: datetime) -> LedgerRanges:
    """The ledger ranges the caller must count for this dial (see ``compliance.ledger``)."""
    return ledger_ranges(now, resolve_context_zones(ctx, policy).zone_names())


def applicable_agreements(ctx: DialContext, now: datetime) -> list[AgreedWindow]:
    """Agreed windows of ``ctx`` that cover its number or case and have not expired."""
    return [a for a in ctx.agreed_windows if a.applies_to(number=ctx.number, case_id=ctx.case_id, now=now)]


def _next_allowed(blocks: list[Block], now: datetime, zones: tuple[str, ...], policy: Policy, *,
                  agreed: list[AgreedWindow], window: WindowResult | None) -> datetime | None:
    if any(not b.time_based or b.clears_at is None for b in blocks):
        return None
    start = max([now, *(b.clears_at for b in blocks if b.code == "frequency-cap" and b.clears_at)])
    if window is None:
        return start
    if start == now:
        return window.next_allowed_at
    return window_open(start, zones, policy, agreed).next_allowed_at


Refusal = tuple[str, dict[str, Any]]  # why an override is refused, and its facts (``compliance.explain``)


def _override(ctx: DialContext, policy: Policy, blocks: list[Block]) -> tuple[bool, str | None, Refusal | None]:
    """Whether the override in ``ctx`` applies, and why not when it does not (in words, and as facts)."""
    request = ctx.override
    if request is None:
        return False, None, None
    if request.role not in OVERRIDE_ROLES:
        return (False, f"Override refused: role {request.role!r} may not override (supervisor needed).",
                ("role", {"role": request.role}))
    if not request.reason.strip():
        return False, "Override refused: a reason is required.", ("reason", {})
    if not policy.allow_supervisor_override:
        return (False, f"Override refused: policy {policy.id} does not allow supervisor overrides.",
                ("policy", {"policy": policy.id}))
    fixed = [b.rule_id for b in blocks if not b.overridable]
    if fixed:
        return False, f"Override refused: {', '.join(fixed)} cannot be overridden.", ("fixed", {"rules": fixed})
    return True, None, None


def evaluate(request: DialContext, policy: Policy, ledger: LedgerCounts, now: datetime) -> Decision:
    """Decide whether ``request`` may be dialled at ``now`` (aware) and explain why."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    resolution = resolve_context_zones(request, policy)
    zones = resolution.zone_names()
    agreed = applicable_agreements(request, now)
    window = window_open(now, zones, policy, agreed) if zones else None
    blocks: list[Block] = [
        *case_status(request),
        *holds(request, policy),
        *do_not_call(request, policy),
        *third_party(request, policy, ledger),
        *unknown_timezone(request, resolution, policy),
        *(calling_window(window, resolution) if window is not None else []),
        *frequency(request, policy, ledger, now, zones),
    ]
    blocks.sort(key=lambda b: SEVERITY[b.code])
    details: dict[str, Any] = {
        "blocks": [b.model_dump(mode="json") for b in blocks],
        "window": window.model_dump(mode="json") if window is not None else None,
        "agreed_windows": [a.model_dump(mode="json") for a in agreed],
        "ledger": ledger.model_dump(mode="json"),
    }
    if resolution.rejected:
        details["rejected_zones"] = list(resolution.rejected)
    zone_out = [ZoneInfoOut(zone=c.zone, source=c.source) for c in resolution.zones]
    base: dict[str, Any] = {"zones": zone_out, "details": details, "policy_id": policy.id,
                            "evaluated_at": now}
    if not blocks:
        return Decision(allowed=True, message=_allowed_message(window, resolution, policy, agreed), **base)
    primary = blocks[0]
    rule_ids = [b.rule_id for b in blocks]
    overridden, refusal, refusal_facts = _override(request, policy, blocks)
    if overridden:
        assert request.override is not None
        details["override"] = request.override.model_dump(mode="json")
        return Decision(
            allowed=True, code=primary.code, rule_ids=rule_ids, overridden=True,
            override_reason=request.override.reason.strip(),
            message=f"Allowed by supervisor override ({request.override.reason.strip()}) despite: "
                    + " ".join(b.message for b in blocks), **base)
    next_at = _next_allowed(blocks, now, zones, policy, agreed=agreed, window=window)
    message = " ".join(b.message for b in blocks)
    if next_at is not None:
        message += f" Next allowed at {fmt_instant(next_at, zones[0] if zones else None)}."
    if refusal:
        details["override_refused"] = refusal
        if refusal_facts is not None:
            details["override_refusal"] = {"why": refusal_facts[0], **refusal_facts[1]}
        message += f" {refusal}"
    return Decision(allowed=False, code=primary.code, rule_ids=rule_ids, next_allowed_at=next_at,
                    message=message, **base)


def _allowed_message(window: WindowResult | None, resolution: ZoneResolution, policy: Policy,
                     agreed: list[AgreedWindow]) -> str:
    if window is None:
        return f"Call allowed by policy {policy.id}."
    parts = [f"{z.local_time[11:16]} in {z.zone} ({', '.join(resolution.sources_of(z.zone))})"
             for z in window.zones]
    how = "inside the calling window"
    if window.by_agreement:
        how = f"inside a window the customer agreed to: {'; '.join(a.describe() for a in agreed)}"
    return f"Call allowed by policy {policy.id}: it is {'; '.join(parts)}, {how}, and no cap or hold applies."


def evaluate_cases(dials: Sequence[tuple[DialContext, LedgerCounts]], policy: Policy, now: datetime, *,
                   clients: Mapping[str, str | None]) -> Decision:
    """A dial without a case: decide it for every case holding the number, under ``policy`` (the strictest of
    their clients' policies), and pass only when every case lets it through.

    Each case brings its own holds, number facts, zones, agreed windows and ledger (per-debtor caps); the
    explanation names every case and client considered, and each block says which case raised it.
    ``clients`` maps a case id to its client.
    """
    if not dials:
        raise ValueError("evaluate_cases needs at least one case")
    number = dials[0][0].number
    decided = [(ctx, evaluate(ctx, policy, ledger, now)) for ctx, ledger in dials]
    names = ", ".join(f"{ctx.case_id} (client {clients.get(ctx.case_id)})" for ctx, _ in decided)
    preamble = (f"{number} belongs to {len(decided)} case(s): {names}; each is checked under policy "
                f"{policy.id}, the strictest of their clients'.")
    blocks = [{**b, "case_id": ctx.case_id} for ctx, d in decided for b in d.details.get("blocks", [])]
    zones = list({(z.zone, z.source): z for _, d in decided for z in d.zones}.values())
    details: dict[str, Any] = {
        "number": number,
        "cases": [{"case_id": ctx.case_id, "client_id": clients.get(ctx.case_id), "allowed": d.allowed,
                   "code": d.code, "rule_ids": d.rule_ids, "message": d.message, "details": d.details}
                  for ctx, d in decided],
        "blocks": blocks,
        "agreed_windows": [a for _, d in decided for a in d.details.get("agreed_windows", [])],
    }
    rule_ids = list(dict.fromkeys(r for _, d in decided for r in d.rule_ids))
    base: dict[str, Any] = {"zones": zones, "details": details, "policy_id": policy.id, "evaluated_at": now,
                            "rule_ids": rule_ids}
    refused = [d for _, d in decided if not d.allowed]
    if not refused:
        overridden = [d for _, d in decided if d.overridden]
        return Decision(
            allowed=True, overridden=bool(overridden),
            code=min((d.code for d in overridden if d.code), key=SEVERITY.__getitem__, default=None),
            override_reason=overridden[0].override_reason if overridden else None,
            message=" ".join([preamble, *(f"{ctx.case_id}: {d.message}" for ctx, d in decided)]), **base)
    nexts = [d.next_allowed_at for d in refused]
    next_at = None if any(n is None for n in nexts) else max(n for n in nexts if n is not None)
    return Decision(
        allowed=False, code=min((d.code for d in refused if d.code), key=SEVERITY.__getitem__),
        next_allowed_at=next_at, message=" ".join([preamble, *(d.message for d in refused)]), **base)
