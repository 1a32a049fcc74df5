"""Metric and dimension definitions: the one place their meaning is written (README and API schema read it)."""

from __future__ import annotations

from dataclasses import dataclass

END_REASONS = (
    "completed", "customer_busy", "customer_no_answer", "customer_unreachable", "agent_no_answer",
    "agent_rejected", "agent_unavailable", "cancelled", "failed",
)
OUTCOMES = (
    "right_party_contact", "promise_to_pay", "refuses", "wrong_number", "third_party_answered", "deceased",
    "suspected_fraud", "dispute", "callback_requested", "no_answer", "busy", "left_message", "other",
)
# Dispositions that mean the debtor in person was reached.
RIGHT_PARTY_OUTCOMES = ("right_party_contact", "promise_to_pay", "refuses", "dispute", "callback_requested")
# Derived base measures: summed in one aggregate over the sum of their rollup columns.
COMPOSITES: dict[str, tuple[str, ...]] = {
    "agent_not_answered": ("agent_no_answer", "agent_rejected", "agent_unavailable"),
    "rpc": tuple(f"o_{o}" for o in RIGHT_PARTY_OUTCOMES),
}
# Q.850 causes meaning the dialled number does not exist: 1 unallocated, 22 number changed, 28 invalid format.
INVALID_NUMBER_CAUSES = (1, 22, 28)
# Percentiles of talk time are taken over whole seconds: talk_seconds rounded half up (floor(t + 0.5)).
PERCENTILES = {"talk_median": (1, 2), "talk_p90": (9, 10)}  # name -> q as a fraction (num, den)


@dataclass(frozen=True)
class Metric:
    """A reported figure and its one-line definition."""

    name: str
    definition: str
    unit: str = "count"


def _m(name: str, definition: str, unit: str = "count") -> Metric:
    return Metric(name, definition, unit)


METRICS: dict[str, Metric] = {m.name: m for m in [
    _m("attempts", "Calls placed (one Call row each, keyed by our call id = Asterisk Linkedid), by creation time."),
    _m("blocked", "Attempts the compliance gate refused (never placed, never a Call row; a check without a dial "
                  "is no attempt); shown apart. "
                  "Null when the grouping/filters use a dimension the decision log lacks."),
    _m("agent_not_answered", "Placed calls the agent's phone never answered (agent_no_answer + agent_rejected + "
                             "agent_unavailable)."),
    _m("connected", "Placed calls the customer answered (answered_at is set); a transferred call is connected "
                    "once, for the agent who placed it."),
    _m("connect_rate", "connected / attempts.", "ratio"),
    _m("busy", "Calls ended because the customer line was busy (end_reason customer_busy)."),
    _m("no_answer", "Calls the customer did not answer (end_reason customer_no_answer)."),
    _m("unreachable", "Calls the network could not deliver (end_reason customer_unreachable)."),
    _m("failed", "Calls that failed for another reason (end_reason failed)."),
    _m("cancelled", "Calls cancelled before the customer answered (end_reason cancelled)."),
    _m("invalid_number", "Unanswered calls whose hangup cause says the number does not exist "
                         "(Q.850 1, 22 or 28); a subset of the reasons above."),
    _m("in_progress", "Attempts not yet ended."),
    _m("right_party_contacts", "Calls dispositioned right_party_contact, promise_to_pay, refuses, dispute or "
                               "callback_requested."),
    _m("right_party_rate", "right_party_contacts / connected.", "ratio"),
    _m("promises", "Calls dispositioned promise_to_pay."),
    _m("promise_rate", "promises / right_party_contacts.", "ratio"),
    _m("promise_amount", "Sum of promise_amount of promise_to_pay dispositions, per currency ({currency: "
                         "amount}), bucketed by the call's creation time.", "money"),
    _m("talk_total", "Sum of talk seconds (customer answer to hang-up) of connected calls; a transferred call's "
                     "talk goes to each agent who talked, by leg (the agent who placed it until the hand-over, "
                     "the target from then on).", "s"),
    _m("talk_mean", "talk_total / conversations with a talk time (a call, or each leg of a transferred call).",
       "s"),
    _m("talk_median", "Median talk time of connected calls (nearest rank: the ceil(n/2)-th smallest), over talk "
                      "seconds rounded to whole seconds (half up); exact. By agent or team (grouped or "
                      "filtered) each leg of a transferred call is one talk, its agent's; otherwise a "
                      "transferred call is one talk, the whole conversation.", "s"),
    _m("talk_p90", "90th percentile talk time (nearest rank: the ceil(0.9 n)-th smallest), whole seconds like "
                   "talk_median; exact.", "s"),
    _m("time_to_answer_mean", "Mean seconds from the customer's phone ringing to the answer, connected calls.",
       "s"),
    _m("outcome_<name>", "Calls dispositioned <name>; outcome_none = attempts without a disposition."),
    _m("cases", "Cases received in the range (first-call-sla)."),
    _m("first_call_within_sla", "Cases whose first placed call came within N days of receipt (first-call-sla).",),
    _m("first_call_sla_rate", "first_call_within_sla / cases (first-call-sla); late cases are listed.", "ratio"),
    _m("payments", "Payments the bank reported, by the time they were paid (repayments); agent, team and batch are "
                   "the case's when the payment arrived."),
    _m("collected", "Sum of those payments' amounts, per currency ({currency: amount}) (repayments).", "money"),
    _m("promises_made", "Promises to pay taken (promise_to_pay dispositions), by the start of the call they were "
                        "taken on; agent is who took it (repayments)."),
    _m("promises_kept", "Of promises_made, those the case's payments in the promise's currency covered between "
                        "the call and the deadline (the promise date plus the client's grace, in the case's zone), "
                        "less the client's tolerance; a payment paid by the deadline but reported later counts."),
    _m("promises_broken", "Of promises_made, those whose deadline passed with nothing paid towards them."),
    _m("promises_partial", "Of promises_made, those whose deadline passed with some, not enough, paid towards them."),
    _m("promises_pending", "Of promises_made, those whose deadline has not passed and that are not kept yet."),
    _m("kept_rate", "promises_kept / (promises_kept + promises_partial + promises_broken): a partial promise counts "
                    "as not kept; pending promises are left out.", "ratio"),
]}

DIMENSIONS: dict[str, str] = {
    "agent": "The agent who placed the call.",
    "team": "The agent's team at call time.",
    "client": "The client (bank) the case belongs to.",
    "batch": "The case batch.",
    "number_kind": "The kind of the dialled number (mobile, landline, ...).",
    "direction": "outbound (dialled by the service) or inbound (a customer calling a presented number).",
    "day": "Local calendar day in the report time zone (YYYY-MM-DD).",
    "week": "Local ISO week, labelled by its Monday (YYYY-MM-DD).",
    "month": "Local calendar month (YYYY-MM).",
    "hour": "Local hour of day 0-23.",
    "weekday": "Local weekday, 1 = Monday ... 7 = Sunday (ISO).",
}
ENTITY_DIMENSIONS = ("agent", "team", "client", "batch", "number_kind", "direction")
TIME_DIMENSIONS = ("day", "week", "month", "hour", "weekday")
