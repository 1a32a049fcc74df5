"""Built-in policy profiles: CN (default), US, and DEMO (local demo only).

Every number is a default a client can tighten with ``merge_strictest``; none of it is legal advice.
"""

from __future__ import annotations

from datetime import timedelta

from compliance.policy import Policy, WeeklyWindows, interval

#: China. Window: the source document (sections 4.3.1.1 / 4.5.1.2), 08:00-21:00 unless agreed
#: (stricter than CBA 2026 / GB/T 45251-2025, which forbid 22:00-08:00). CBA 2026: at most 6
#: unanswered attempts per day to the same number. GB/T 45251-2025 / NIFA 2024: at most 3
#: connected calls per debtor per day. CBA 2026: a third-party number only after 3 failed
#: attempts on the debtor's own numbers, once. Every +86 number is in Asia/Shanghai.
CN = Policy(
    id="CN",
    name="China (source document, CBA 2026, GB/T 45251-2025)",
    windows=WeeklyWindows.every_day(interval("08:00", "21:00")),
    max_unanswered_per_number_per_day=6,
    max_connected_per_debtor_per_day=3,
    third_party_min_failed_own_attempts=3,
    third_party_max_calls_per_number=1,
    holds={"hardship": "supervisor_override", "illness": "supervisor_override",
           "pregnancy": "supervisor_override"},
    unknown_timezone="country_zones",
    allow_supervisor_override=True,
)

#: United States. FDCPA 15 USC 1692c(a)(1) / Reg F 1006.6(b)(1)(i): 08:00-21:00 at the consumer's
#: location (every candidate zone). Reg F 1006.14(b)(2): at most 7 calls in 7 consecutive days per
#: debtor, none within 7 days after a telephone conversation (conversation day = day 1). CFPB
#: rebuttal factors: two unanswered calls to one number within 5 minutes -> minimum gap.
#: Unknown zone blocks (CFPB v. Discover: area code alone is not enough).
US = Policy(
    id="US",
    name="United States (FDCPA, Regulation F)",
    windows=WeeklyWindows.every_day(interval("08:00", "21:00")),
    max_unanswered_per_number_per_day=7,
    max_attempts_per_debtor_rolling_7d=7,
    quiet_days_after_conversation=7,
    min_gap_unanswered_same_number=timedelta(minutes=5),
    unknown_timezone="block",
    allow_supervisor_override=False,
)

#: Local demo only: every hour of every day is allowed so the sandbox can be dialled at night.
#: Caps, holds, third-party and do-not-call rules are those of CN. Never use it for real callees.
DEMO = CN.model_copy(update={
    "id": "DEMO",
    "name": "Local demo only (all hours allowed)",
    "windows": WeeklyWindows.every_day(interval("00:00", "24:00")),
})

DEFAULT = CN

PROFILES: dict[str, Policy] = {"CN": CN, "US": US, "DEMO": DEMO}


def get_profile(name: str) -> Policy:
    """The built-in profile called ``name`` (``CN``, ``US`` or ``DEMO``)."""
    try:
        return PROFILES[name.upper()]
    except KeyError:
        raise KeyError(f"unknown compliance profile {name!r}; known: {', '.join(PROFILES)}") from None
