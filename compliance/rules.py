"""The individual gate rules; each returns the blocks it raises (empty list = passes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from compliance.decision import Block, BlockCode, DialContext, fmt_instant
from compliance.ledger import ROLLING_WINDOW, LedgerCounts, next_day_start
from compliance.policy import HARD_STOPS, SOFT_HOLDS, Policy
from compliance.timezones import ZoneResolution
from compliance.windows import WindowResult, local_date, local_midnight_utc
from core.i18n import word

_ENDED_CASES: dict[str, tuple[BlockCode, str]] = {
    "closed": ("case-closed", "is closed"), "paid": ("case-paid", "is paid"),
    "returned": ("case-returned", "was returned to the client"),
    "recalled": ("case-recalled", "was recalled by the client"),
}


def case_status(ctx: DialContext) -> list[Block]:
    """A closed, paid, returned or recalled case is no longer collected: no dial, never overridable."""
    ended = _ENDED_CASES.get(ctx.case_status)
    if ended is None:
        return []
    code, words = ended
    return [Block(rule_id=code, code=code, overridable=False, params={"case_id": ctx.case_id},
                  message=f"Case {ctx.case_id} {words}; it may not be dialled.")]


def holds(ctx: DialContext, policy: Policy) -> list[Block]:
    """Legal hard stops (never overridable) and client-configured soft holds."""
    blocks: list[Block] = []
    for reason in dict.fromkeys(ctx.holds):
        if reason in HARD_STOPS:
            blocks.append(Block(
                rule_id=f"hold:{reason}", code="case-on-hold", overridable=False,
                params={"case_id": ctx.case_id, "reason": reason, "mode": "hard"},
                message=f"Case {ctx.case_id} is on hold because {word('reason', reason, 'en')}; this legal stop "
                        "cannot be overridden until it is cleared with evidence."))
        elif reason in SOFT_HOLDS:
            mode = policy.hold_mode(reason)
            if mode == "allow":
                continue
            overridable = mode == "supervisor_override"
            then = "lets a supervisor override it." if overridable else "blocks calls."
            blocks.append(Block(
                rule_id=f"hold:{reason}", code="case-on-hold", overridable=overridable,
                params={"case_id": ctx.case_id, "reason": reason, "policy": policy.id,
                        "mode": "override" if overridable else "block"},
                message=f"Case {ctx.case_id} is on hold because {word('reason', reason, 'en')}; "
                        f"policy {policy.id} {then}"))
        else:  # "other": whoever put it knows why (the hold's note); nobody dials until it is released
            blocks.append(Block(
                rule_id=f"hold:{reason}", code="case-on-hold", overridable=False,
                params={"case_id": ctx.case_id, "reason": reason, "mode": "other"},
                message=f"Case {ctx.case_id} is on hold for another reason (see the hold's note); "
                        "calls are blocked until the hold is released."))
    return blocks


def do_not_call(ctx: DialContext, policy: Policy) -> list[Block]:
    """Do-not-call list (exact numbers and prefixes) and the number's own status."""
    blocks: list[Block] = []
    if ctx.number_status == "do_not_call":
        blocks.append(Block(rule_id="do-not-call:number-status", code="do-not-call", overridable=False,
                            params={"number": ctx.number},
                            message=f"The number {ctx.number} is marked do-not-call."))
    if ctx.number_status == "invalid":
        blocks.append(Block(rule_id="do-not-call:number-invalid", code="do-not-call", overridable=False,
                            params={"number": ctx.number},
                            message=f"The number {ctx.number} is marked invalid; verify it before dialling."))
    if ctx.number in policy.do_not_call_numbers:
        blocks.append(Block(rule_id="do-not-call:list", code="do-not-call", overridable=False,
                            params={"number": ctx.number, "policy": policy.id},
                            message=f"The number {ctx.number} is on the do-not-call list of policy "
                                    f"{policy.id}."))
    prefixes = sorted(p for p in policy.do_not_call_prefixes if ctx.number.startswith(p))
    if prefixes:
        blocks.append(Block(rule_id="do-not-call:prefix", code="do-not-call", overridable=False,
                            params={"number": ctx.number, "prefix": prefixes[0], "policy": policy.id},
                            message=f"The number {ctx.number} matches do-not-call prefix {prefixes[0]} "
                                    f"of policy {policy.id}."))
    return blocks


def third_party(ctx: DialContext, policy: Policy, ledger: LedgerCounts) -> list[Block]:
    """Third-party numbers: only to locate an unreachable debtor, at most N times, never after objection."""
    if ctx.number_kind != "third_party":
        return []
    blocks: list[Block] = []
    if not policy.third_party_allowed:
        blocks.append(Block(rule_id="third-party:disabled", code="third-party-restricted", overridable=False,
                            params={"policy": policy.id},
                            message=f"Policy {policy.id} does not allow calling third-party numbers."))
    if ctx.third_party_objected:
        blocks.append(Block(rule_id="third-party:objected", code="third-party-restricted", overridable=False,
                            params={"number": ctx.number},
                            message=f"The third party at {ctx.number} objected to being called; "
                                    "it must never be called again."))
    needed = policy.third_party_min_failed_own_attempts
    if not ctx.own_numbers_all_invalid and ledger.consecutive_failed_own_attempts < needed:
        blocks.append(Block(
            rule_id="third-party:debtor-not-unreachable", code="third-party-restricted", overridable=True,
            params={"failed": ledger.consecutive_failed_own_attempts, "needed": needed},
            message=f"A third-party number may only be used to locate an unreachable debtor: "
                    f"{ledger.consecutive_failed_own_attempts} of {needed} consecutive failed attempts on "
                    "the debtor's own numbers so far."))
    if ledger.third_party_calls_to_number >= policy.third_party_max_calls_per_number:
        blocks.append(Block(
            rule_id="third-party:already-called", code="third-party-restricted", overridable=True,
            params={"number": ctx.number, "calls": ledger.third_party_calls_to_number,
                    "max": policy.third_party_max_calls_per_number},
            message=f"The third-party number {ctx.number} was already called "
                    f"{ledger.third_party_calls_to_number} time(s); at most "
                    f"{policy.third_party_max_calls_per_number} allowed."))
    return blocks


def unknown_timezone(ctx: DialContext, resolution: ZoneResolution, policy: Policy) -> list[Block]:
    """No candidate zone at all: the local time of the callee cannot be known."""
    if not resolution.unknown:
        return []
    return [Block(rule_id="timezone:unknown", code="unknown-timezone", overridable=True,
                  params={"number": ctx.number, "policy": policy.id},
                  message=f"The callee's time zone is unknown for {ctx.number} (no case, address or number "
                          f"zone, and the number gives none); policy {policy.id} blocks such calls.")]


def _label(zone: str, resolution: ZoneResolution) -> str:
    return f"{zone} ({', '.join(resolution.sources_of(zone))})"


def calling_window(window: WindowResult, resolution: ZoneResolution) -> list[Block]:
    """Holiday and calling-hours blocks from the window check (time-based)."""
    if window.open or resolution.unknown:
        return []
    blocks: list[Block] = []
    holiday_zones = [z for z in window.zones if z.holiday]
    outside = [z for z in window.zones if not z.inside and not z.holiday]
    if holiday_zones:
        where = "; ".join(f"{z.local_time[:10]} is a holiday in {_label(z.zone, resolution)}"
                          for z in holiday_zones)
        blocks.append(Block(rule_id="holiday", code="holiday", overridable=True, time_based=True,
                            params={"holidays": [{"date": z.local_time[:10], "zone": z.zone,
                                                  "sources": list(resolution.sources_of(z.zone))}
                                                 for z in holiday_zones]},
                            clears_at=window.next_allowed_at, message=f"No calls on holidays: {where}."))
    if outside or not holiday_zones:
        parts = []
        for z in outside or window.zones:
            allowed = ", ".join(z.allowed_today + z.agreed_today) or "no hours"
            parts.append(f"It is {z.local_time[11:16]} ({z.local_weekday}) in {_label(z.zone, resolution)}; "
                         f"calls are allowed {allowed}")
        if not outside:
            parts.append("the window does not hold in every candidate zone at once")
        zones = [{"zone": z.zone, "sources": list(resolution.sources_of(z.zone)), "time": z.local_time[11:16],
                  "weekday": z.local_weekday,
                  "allowed": [*z.allowed_today, *z.agreed_today]} for z in outside or window.zones]
        blocks.append(Block(rule_id="calling-hours", code="outside-calling-hours", overridable=True,
                            params={"zones": zones, "together": bool(outside)},
                            time_based=True, clears_at=window.next_allowed_at,
                            message=". ".join(parts) + "."))
    return blocks


def _cap_block(rule_id: str, message: str, clears_at: datetime | None, **params: Any) -> Block:
    return Block(rule_id=rule_id, code="frequency-cap", overridable=True, message=message,
                 clears_at=clears_at, time_based=clears_at is not None, params=params)


def frequency(ctx: DialContext, policy: Policy, ledger: LedgerCounts, now: datetime,
              zones: tuple[str, ...]) -> list[Block]:
    """Per-day caps, the rolling 7-day cap, quiet days after a conversation and the minimum gap."""
    blocks: list[Block] = []
    tomorrow = next_day_start(now, zones)
    cap = policy.max_unanswered_per_number_per_day
    if cap is not None and ledger.unanswered_to_number_today >= cap:
        blocks.append(_cap_block(
            "cap:unanswered-per-number-per-day",
            f"{ledger.unanswered_to_number_today} unanswered attempts to {ctx.number} today; "
            f"at most {cap} per day (policy {policy.id}).", tomorrow if cap > 0 else None,
            number=ctx.number, count=ledger.unanswered_to_number_today, cap=cap, policy=policy.id))
    cap = policy.max_connected_per_debtor_per_day
    if cap is not None and ledger.connected_with_debtor_today >= cap:
        blocks.append(_cap_block(
            "cap:connected-per-debtor-per-day",
            f"{ledger.connected_with_debtor_today} connected calls with the debtor today; "
            f"at most {cap} per day (policy {policy.id}).", tomorrow if cap > 0 else None,
            count=ledger.connected_with_debtor_today, cap=cap, policy=policy.id))
    cap = policy.max_attempts_per_debtor_rolling_7d
    if cap is not None:
        recent = sorted(t for t in ledger.debtor_attempts_7d if now - ROLLING_WINDOW < t <= now)
        if len(recent) >= cap:
            clears = recent[len(recent) - cap] + ROLLING_WINDOW if cap > 0 else None
            blocks.append(_cap_block(
                "cap:attempts-per-debtor-7d",
                f"{len(recent)} attempts on the debtor in the last 7 days; at most {cap} "
                f"(policy {policy.id}).", clears, count=len(recent), cap=cap, policy=policy.id))
    quiet = policy.quiet_days_after_conversation
    if quiet and ledger.last_conversation_at is not None:
        ends = _quiet_end(ledger.last_conversation_at, quiet, zones)
        if now < ends:
            blocks.append(_cap_block(
                "cap:quiet-after-conversation",
                f"A conversation took place at {fmt_instant(ledger.last_conversation_at)}; no call within "
                f"{quiet} days after it (conversation day = day 1).", ends,
                at=fmt_instant(ledger.last_conversation_at), days=quiet))
    gap = policy.min_gap_unanswered_same_number
    last = ledger.last_unanswered_to_number_at
    if gap and last is not None and now - last < gap:
        blocks.append(_cap_block(
            "cap:min-gap-unanswered",
            f"The last unanswered attempt to {ctx.number} was at {fmt_instant(last)}; wait at least "
            f"{_fmt_delta(gap)} between unanswered attempts.", last + gap,
            number=ctx.number, at=fmt_instant(last), gap_s=int(gap.total_seconds())))
    return blocks


def _quiet_end(conversation: datetime, days: int, zones: tuple[str, ...]) -> datetime:
    """Local midnight starting day ``days + 1`` (conversation day = day 1), latest over zones."""
    names = zones or ("UTC",)
    return max(local_midnight_utc(z, local_date(conversation, z) + timedelta(days=days)) for z in names)


def _fmt_delta(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute(s)" if minutes else f"{int(delta.total_seconds())} second(s)"
