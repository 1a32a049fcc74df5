"""Compliance policy model: calling windows, holidays, caps, holds, third parties, do-not-call.

A ``Policy`` is configured per client (the bank) and per jurisdiction; when several apply,
``merge_strictest`` combines them so that the result is never more permissive than any input.
Times of day are callee-local wall-clock times written ``"HH:MM"``; ``"24:00"`` ends a day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

MINUTES_PER_DAY = 1440
_E164_PREFIX = re.compile(r"\+[1-9]\d{0,14}")

HoldReason = Literal[
    "dispute", "denies_card", "suspected_fraud", "deceased", "cease_request", "attorney", "bankruptcy",
    "hardship", "illness", "pregnancy", "other",
]
HardStopReason = Literal[
    "dispute", "denies_card", "suspected_fraud", "deceased", "cease_request", "attorney", "bankruptcy",
]
SoftHoldReason = Literal["hardship", "illness", "pregnancy"]
HoldMode = Literal["block", "allow", "supervisor_override"]
UnknownTimezoneMode = Literal["block", "country_zones"]
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

#: Legal hard stops: always block, never overridable, not configurable.
HARD_STOPS: frozenset[str] = frozenset(
    {"dispute", "denies_card", "suspected_fraud", "deceased", "cease_request", "attorney", "bankruptcy"}
)
SOFT_HOLDS: tuple[SoftHoldReason, ...] = ("hardship", "illness", "pregnancy")
DAY_NAMES: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOLD_STRICTNESS: dict[str, int] = {"allow": 0, "supervisor_override": 1, "block": 2}


def parse_hhmm(value: Any) -> int:
    """Parse ``"HH:MM"`` (00:00-24:00) or an int of minutes into minutes since local midnight."""
    if isinstance(value, bool):
        raise ValueError("a time of day must be 'HH:MM'")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str):
        hours, sep, mins = value.strip().partition(":")
        if not sep or not hours.isdigit() or not mins.isdigit() or len(mins) != 2:
            raise ValueError(f"time of day {value!r} is not 'HH:MM'")
        if int(mins) >= 60:
            raise ValueError(f"time of day {value!r} has minutes >= 60")
        minutes = int(hours) * 60 + int(mins)
    else:
        raise ValueError("a time of day must be 'HH:MM'")
    if not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValueError(f"time of day {value!r} is outside 00:00-24:00")
    return minutes


def format_hhmm(minutes: int) -> str:
    """Format minutes since local midnight as ``"HH:MM"`` (1440 -> ``"24:00"``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


LocalTime = Annotated[int, BeforeValidator(parse_hhmm), PlainSerializer(format_hhmm, return_type=str)]


class Interval(BaseModel):
    """A half-open local wall-clock interval [start, end) within one day."""

    model_config = ConfigDict(frozen=True)

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end <= self.start:
            raise ValueError(
                f"interval {format_hhmm(self.start)}-{format_hhmm(self.end)} is empty or reversed")
        return self

    def __str__(self) -> str:
        return f"{format_hhmm(self.start)}-{format_hhmm(self.end)}"


def interval(start: str, end: str) -> Interval:
    """Build an ``Interval`` from two ``"HH:MM"`` strings."""
    return Interval.model_validate({"start": start, "end": end})


T = TypeVar("T", int, datetime)


def normalize(intervals: Iterable[tuple[T, T]]) -> tuple[tuple[T, T], ...]:
    """Sort and merge overlapping or touching (start, end) pairs; drop empty ones."""
    out: list[tuple[T, T]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def intersect(a: Sequence[tuple[T, T]], b: Sequence[tuple[T, T]]) -> tuple[tuple[T, T], ...]:
    """Intersection of two normalised interval lists."""
    out: list[tuple[T, T]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _default_day() -> tuple[Interval, ...]:
    return (interval("08:00", "21:00"),)


class WeeklyWindows(BaseModel):
    """Allowed intervals per weekday; an empty list means no calls that weekday."""

    model_config = ConfigDict(frozen=True)

    mon: tuple[Interval, ...] = Field(default_factory=_default_day)
    tue: tuple[Interval, ...] = Field(default_factory=_default_day)
    wed: tuple[Interval, ...] = Field(default_factory=_default_day)
    thu: tuple[Interval, ...] = Field(default_factory=_default_day)
    fri: tuple[Interval, ...] = Field(default_factory=_default_day)
    sat: tuple[Interval, ...] = Field(default_factory=_default_day)
    sun: tuple[Interval, ...] = Field(default_factory=_default_day)

    @classmethod
    def every_day(cls, *intervals: Interval) -> WeeklyWindows:
        """The same intervals on all seven days."""
        return cls(**{day: tuple(intervals) for day in DAY_NAMES})

    def minutes(self, weekday: int) -> tuple[tuple[int, int], ...]:
        """Normalised (start, end) minute pairs for ``weekday`` (Monday = 0)."""
        day: tuple[Interval, ...] = getattr(self, DAY_NAMES[weekday])
        return normalize((iv.start, iv.end) for iv in day)


def _strict_holds() -> dict[SoftHoldReason, HoldMode]:
    return dict.fromkeys(SOFT_HOLDS, "block")


class Policy(BaseModel):
    """One client's or one jurisdiction's rules; ``None`` for a cap means no cap."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    windows: WeeklyWindows = Field(default_factory=WeeklyWindows)
    holidays: frozenset[date] = frozenset()
    allow_agreed_windows: bool = True
    max_unanswered_per_number_per_day: int | None = Field(default=None, ge=0)
    max_connected_per_debtor_per_day: int | None = Field(default=None, ge=0)
    max_attempts_per_debtor_rolling_7d: int | None = Field(default=None, ge=0)
    quiet_days_after_conversation: int | None = Field(default=None, ge=0)
    min_gap_unanswered_same_number: timedelta | None = None
    holds: dict[SoftHoldReason, HoldMode] = Field(default_factory=_strict_holds)
    third_party_allowed: bool = True
    third_party_min_failed_own_attempts: int = Field(default=3, ge=0)
    third_party_max_calls_per_number: int = Field(default=1, ge=0)
    do_not_call_numbers: frozenset[str] = frozenset()
    do_not_call_prefixes: frozenset[str] = frozenset()
    unknown_timezone: UnknownTimezoneMode = "block"
    allow_supervisor_override: bool = False

    @field_validator("do_not_call_numbers", "do_not_call_prefixes")
    @classmethod
    def _e164(cls, values: frozenset[str]) -> frozenset[str]:
        for value in values:
            if not _E164_PREFIX.fullmatch(value):
                raise ValueError(f"{value!r} is not an E.164 number or prefix ('+' and digits)")
        return values

    def hold_mode(self, reason: SoftHoldReason) -> HoldMode:
        """How a soft hold is handled (missing entries are strict: ``block``)."""
        return self.holds.get(reason, "block")

    @property
    def hard_stops(self) -> frozenset[str]:
        """The legal hard stops (identical for every policy)."""
        return HARD_STOPS


def _min_cap(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max_opt(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def merge_strictest(policies: Sequence[Policy]) -> Policy:
    """Combine policies so the result is at least as strict as every input.

    Windows are intersected per weekday, holidays and do-not-call lists united, each cap takes
    the minimum present value, quiet days and gaps the maximum, holds the strictest mode, and
    every permission (agreed windows, third parties, overrides, country-zone fallback) must be
    granted by all inputs.
    """
    if not policies:
        raise ValueError("merge_strictest needs at least one policy")
    if len(policies) == 1:
        return policies[0]
    windows: dict[str, tuple[Interval, ...]] = {}
    for index, day in enumerate(DAY_NAMES):
        common = policies[0].windows.minutes(index)
        for other in policies[1:]:
            common = intersect(common, other.windows.minutes(index))
        windows[day] = tuple(Interval(start=s, end=e) for s, e in common)
    holds: dict[SoftHoldReason, HoldMode] = {
        reason: max((p.hold_mode(reason) for p in policies), key=_HOLD_STRICTNESS.__getitem__)
        for reason in SOFT_HOLDS
    }
    return Policy(
        id="+".join(p.id for p in policies),
        name=" + ".join(p.name for p in policies),
        windows=WeeklyWindows(**windows),
        holidays=frozenset().union(*(p.holidays for p in policies)),
        allow_agreed_windows=all(p.allow_agreed_windows for p in policies),
        max_unanswered_per_number_per_day=_min_cap(p.max_unanswered_per_number_per_day for p in policies),
        max_connected_per_debtor_per_day=_min_cap(p.max_connected_per_debtor_per_day for p in policies),
        max_attempts_per_debtor_rolling_7d=_min_cap(p.max_attempts_per_debtor_rolling_7d for p in policies),
        quiet_days_after_conversation=_max_opt(p.quiet_days_after_conversation for p in policies),
        min_gap_unanswered_same_number=_max_opt(p.min_gap_unanswered_same_number for p in policies),
        holds=holds,
        third_party_allowed=all(p.third_party_allowed for p in policies),
        third_party_min_failed_own_attempts=max(p.third_party_min_failed_own_attempts for p in policies),
        third_party_max_calls_per_number=min(p.third_party_max_calls_per_number for p in policies),
        do_not_call_numbers=frozenset().union(*(p.do_not_call_numbers for p in policies)),
        do_not_call_prefixes=frozenset().union(*(p.do_not_call_prefixes for p in policies)),
        unknown_timezone="country_zones" if all(p.unknown_timezone == "country_zones" for p in policies)
        else "block",
        allow_supervisor_override=all(p.allow_supervisor_override for p in policies),
    )
