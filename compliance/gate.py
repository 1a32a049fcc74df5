"""The compliance gate: one pure function in front of every dial, manual click-to-dial included.

``evaluate`` runs every rule, reports every blocking rule, picks the primary code by severity
(hold, do-not-call, third party, unknown zone, holiday, hours, frequency) and computes
``next_allowed_at``: the earliest instant at which all time-based blocks have cleared (assuming no
new attempts are made in between), or None when a block that time cannot clear applies.
"""

from __future__ import annotations

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
from compliance.rules import calling_window, do_not_call, frequency, holds, third_party, unknown_timezone
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


def _override(ctx: DialContext, policy: Policy, blocks: list[Block]) -> tuple[bool, str | None]:
    """Whether the override in ``ctx`` applies, and why not when it does not."""
    request = ctx.override
    if request is None:
        return False, None
    if request.role not in OVERRIDE_ROLES:
        return False, f"Override refused: role {request.role!r} may not override (supervisor needed)."
    if not request.reason.strip():
        return False, "Override refused: a reason is required."
    if not policy.allow_supervisor_override:
        return False, f"Override refused: policy {policy.id} does not allow supervisor overrides."
    fixed = [b.rule_id for b in blocks if not b.overridable]
    if fixed:
        return False, f"Override refused: {', '.join(fixed)} cannot be overridden."
    return True, None


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
        return Decision(allowed=True, message=_allowed_message(window, resolution, policy), **base)
    primary = blocks[0]
    rule_ids = [b.rule_id for b in blocks]
    overridden, refusal = _override(request, policy, blocks)
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
        message += f" {refusal}"
    return Decision(allowed=False, code=primary.code, rule_ids=rule_ids, next_allowed_at=next_at,
                    message=message, **base)


def _allowed_message(window: WindowResult | None, resolution: ZoneResolution, policy: Policy) -> str:
    if window is None:
        return f"Call allowed by policy {policy.id}."
    parts = [f"{z.local_time[11:16]} in {z.zone} ({', '.join(resolution.sources_of(z.zone))})"
             for z in window.zones]
    how = "inside a window the customer agreed to" if window.by_agreement else "inside the calling window"
    return f"Call allowed by policy {policy.id}: it is {'; '.join(parts)}, {how}, and no cap or hold applies."
