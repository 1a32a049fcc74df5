"""A gate decision's explanation in any language, worded from the facts each rule recorded.

Every ``Block`` carries the facts of its English ``message`` as ``params``; the sentences are the catalogue's
(``core.messages.RULES``), so a blocked dial reads the same in zh-CN as in English: which rule, for which case
and number, the local time and the allowed hours, the counts and caps, and when the dial is next allowed.
A block without the facts it needs (a decision logged before they were recorded) falls back to its code's
standard sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from compliance.decision import Decision
from compliance.timezones import get_zone
from core.i18n import render, rule_text
from core.messages import Language

_SEP: dict[Language, str] = {"zh-CN": "", "en": " "}
_PART_SEP: dict[Language, str] = {"zh-CN": "；", "en": "; "}
_LIST_SEP: dict[Language, str] = {"zh-CN": "、", "en": ", "}


def explain(decision: Decision, language: Language) -> str:
    """Why ``decision`` blocks the dial, or why it may go ahead, in ``language``."""
    details = decision.details
    zone = decision.zones[0].zone if decision.zones else None
    policy = decision.policy_id
    cases = details.get("cases")
    parts: list[str] = []
    if decision.overridden:
        parts.append(rule_text("overridden", {"reason": decision.override_reason}, language)
                     or rule_text("overridden-no-reason", {}, language) or "")
    if isinstance(cases, list):
        names = [str(c.get("case_id")) for c in cases]
        parts.append(rule_text("cases", {"number": details.get("number"), "count": len(cases), "cases": names,
                                         "policy": policy}, language)
                     or rule_text("cases-unnamed", {"count": len(cases)}, language) or "")
        for case in cases:
            if decision.allowed or not case.get("allowed", True):
                prefix = rule_text("case-prefix", {"case_id": case.get("case_id")}, language) or ""
                parts.append(prefix + _explain_case(case.get("details") or {}, bool(case.get("allowed")),
                                                    policy, language, zone))
    else:
        parts.append(_explain_case(details, decision.allowed and not decision.overridden, policy, language, zone))
    if decision.next_allowed_at is not None:
        parts.append(rule_text("next-allowed", {"at": instant(decision.next_allowed_at, zone, language)},
                               language) or "")
    return _SEP[language].join(p for p in parts if p)


def _explain_case(details: Mapping[str, Any], allowed: bool, policy: str, language: Language,
                  zone: str | None) -> str:
    """One case's blocks and override refusal, or why it may be dialled."""
    if allowed and not details.get("blocks"):
        return _allowed(details, policy, language)
    blocks = details.get("blocks") or []
    parts = [block_text(b, language) for b in blocks]
    refusal = details.get("override_refusal")
    if isinstance(refusal, dict):
        why = rule_text(f"override-refused:{refusal.get('why')}", refusal, language)
        if why is not None:
            parts.append(rule_text("override-refused", {"why": why}, language) or "")
    return _SEP[language].join(p for p in parts if p) or (rule_text("blocked", {}, language) or "")


def _allowed(details: Mapping[str, Any], policy: str, language: Language) -> str:
    """A dial no rule blocks: the local time in each zone, inside the window (or an agreed one)."""
    window = details.get("window")
    if not isinstance(window, dict) or not window.get("zones"):
        return rule_text("allowed", {"policy": policy}, language) or ""
    times = [rule_text("allowed:zone", {"zone": z.get("zone"), "time": str(z.get("local_time", ""))[11:16]},
                       language) for z in window["zones"]]
    key = "allowed:agreed" if window.get("by_agreement") else "allowed:window"
    return (rule_text(key, {"policy": policy, "times": _LIST_SEP[language].join(t for t in times if t)}, language)
            or rule_text("allowed", {"policy": policy}, language) or "")


def block_text(block: Mapping[str, Any], language: Language) -> str:
    """One block's sentence in ``language`` (its code's standard sentence when its facts are missing)."""
    rule_id = str(block.get("rule_id", ""))
    params: dict[str, Any] = dict(block.get("params") or {})
    text: str | None = None
    if rule_id.startswith("hold:") and params.get("mode"):
        text = rule_text(f"hold:{params['mode']}", params, language)
    elif rule_id == "holiday" and params.get("holidays"):
        days = [rule_text("holiday:zone", {**h, "zone": zone_label(h, language)}, language)
                for h in params["holidays"]]
        text = None if None in days else rule_text(
            "holiday", {"holidays": _PART_SEP[language].join(str(d) for d in days)}, language)
    elif rule_id == "calling-hours" and params.get("zones"):
        text = _calling_hours(params, language)
    elif rule_id == "cap:min-gap-unanswered" and "gap_s" in params:
        text = rule_text(rule_id, {**params, "gap": duration(int(params["gap_s"]), language)}, language)
    else:
        text = rule_text(rule_id, params, language)
    return text if text is not None else render(str(block.get("code", "blocked")), {}, language)


def _calling_hours(params: Mapping[str, Any], language: Language) -> str | None:
    parts: list[str] = []
    for z in params["zones"]:
        allowed = _LIST_SEP[language].join(z.get("allowed") or []) or rule_text(
            "calling-hours:no-hours", {}, language)
        part = rule_text("calling-hours:zone", {**z, "zone": zone_label(z, language), "allowed": allowed},
                         language)
        if part is None:
            return None
        parts.append(part)
    if not params.get("together", True):
        parts.append(rule_text("calling-hours:not-together", {}, language) or "")
    return rule_text("calling-hours", {"zones": _PART_SEP[language].join(parts)}, language)


def zone_label(z: Mapping[str, Any], language: Language) -> str:
    """A zone and the sources that named it (``Asia/Shanghai（依据：号码归属地）``)."""
    return rule_text("zone", z, language) or str(z.get("zone", ""))


def duration(seconds: int, language: Language) -> str:
    """Whole minutes, else seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        return rule_text("duration:minutes", {"n": seconds // 60}, language) or ""
    return rule_text("duration:seconds", {"n": seconds}, language) or ""


def instant(at: datetime, zone: str | None, language: Language) -> str:
    """An instant in UTC and, with ``zone``, in its local time."""
    utc = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if zone is None:
        return rule_text("instant:utc", {"utc": utc}, language) or utc
    local = at.astimezone(get_zone(zone)).strftime("%Y-%m-%d %H:%M")
    return rule_text("instant", {"utc": utc, "local": local, "zone": zone}, language) or utc


def explain_all(decision: Decision, languages: Sequence[Language]) -> dict[Language, str]:
    """``explain`` in each of ``languages``."""
    return {lang: explain(decision, lang) for lang in languages}
