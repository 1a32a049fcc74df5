"""Calling windows: is ``now`` inside the window in every candidate zone, and when is it next?

Each local interval [start, end) of a local date becomes one contiguous UTC span. DST rule:
- a local time that does not exist (spring-forward gap) maps to the first instant after the gap,
  for starts and ends alike (a window starting 02:30 on a day when 02:00-03:00 is skipped opens
  at 03:00; a window ending 02:30 closes at 03:00 local, i.e. when the gap begins);
- a local time that occurs twice (fall-back fold) maps to its LATER occurrence when it starts a
  window and to its EARLIER occurrence when it ends one, so the span never contains an instant
  whose wall-clock reading is outside the interval (strict; a fold can only shrink a window).
``"24:00"`` is midnight of the next local date. A holiday (a local date in the policy) has no
spans. Customer-agreed windows add spans: without a zone they are read in each candidate zone
(and must hold in all of them, like the policy window); with a zone they are read in that zone
only and allow calling by themselves. Holidays still apply to agreed windows; an agreed window
stops applying at its ``expires_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compliance.policy import DAY_NAMES, DayName, Interval, Policy, format_hhmm, intersect, normalize
from compliance.timezones import get_zone

Span = tuple[datetime, datetime]
#: Search horizons for the next window; none within the last one means ``next_allowed_at=None``.
_HORIZONS_DAYS = (2, 16, 64)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC)


class AgreedWindow(BaseModel):
    """A time the customer agreed to be called outside the policy window (callee-local)."""

    model_config = ConfigDict(frozen=True)

    scope: Literal["number", "case"]
    scope_value: str
    days: tuple[DayName, ...] = DAY_NAMES
    intervals: tuple[Interval, ...]
    zone: str | None = None
    expires_at: datetime | None = None
    recorded_by: str
    agreed_on_call_id: str | None = None
    window_id: str | None = None
    #: where the agreement is proven: ``case_system`` (the client's case system sent it) or ``call``
    #: (an answered, recorded call with the case, ``agreed_on_call_id``)
    evidence: Literal["case_system", "call"] | None = None

    def describe(self) -> str:
        """One line naming the agreement, its evidence and its expiry."""
        name = f"window {self.window_id}" if self.window_id else f"{self.scope} window"
        if self.evidence == "call":
            proof = f"agreed on call {self.agreed_on_call_id}"
        elif self.evidence == "case_system":
            proof = "sent by the case system"
        else:
            proof = f"recorded by {self.recorded_by}"
        until = f", until {self.expires_at.strftime('%Y-%m-%d %H:%M UTC')}" if self.expires_at else ""
        return f"{name} ({proof}{until})"

    @field_validator("expires_at")
    @classmethod
    def _expiry_aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    def applies_to(self, *, number: str, case_id: str, now: datetime) -> bool:
        """True when this agreement covers ``number``/``case_id`` and has not expired at ``now``."""
        if self.expires_at is not None and now >= self.expires_at:
            return False
        target = number if self.scope == "number" else case_id
        return self.scope_value == target


class ZoneWindow(BaseModel):
    """The window as seen from one candidate zone at ``now``."""

    zone: str
    local_time: str
    local_weekday: DayName
    holiday: bool
    allowed_today: list[str]
    agreed_today: list[str]
    inside: bool


class WindowResult(BaseModel):
    """Outcome of ``window_open``; ``next_allowed_at`` is ``now`` when open, None if none within 64 days."""

    open: bool
    zones: list[ZoneWindow] = Field(default_factory=list)
    next_allowed_at: datetime | None
    by_agreement: bool = False


def _gap_end(zone: str, before: datetime, after: datetime) -> datetime:
    """First UTC instant in (before, after] whose offset differs from ``before``'s (bisection, 1 s)."""
    tz = get_zone(zone)
    first_offset = before.astimezone(tz).utcoffset()
    lo, hi = before, after
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(tz).utcoffset() == first_offset:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=65536)
def local_edge_to_utc(zone: str, ordinal: int, minute: int, is_start: bool) -> datetime:
    """UTC instant of local ``minute`` on local date ``ordinal`` in ``zone``, by the DST rule above."""
    day = date.fromordinal(ordinal)
    if minute >= 1440:
        day = day + timedelta(days=1)
        minute -= 1440
    tz = get_zone(zone)
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    early, late = min(first, second), max(first, second)
    exists = early.astimezone(tz).replace(tzinfo=None) == naive
    if exists:  # fold: the wall time occurs twice
        return late if is_start else early
    return _gap_end(zone, early, late)  # gap: the first instant after it


def local_midnight_utc(zone: str, day: date) -> datetime:
    """UTC instant at which local date ``day`` begins in ``zone`` (gap-aware)."""
    return local_edge_to_utc(zone, day.toordinal(), 0, True)


def local_date(now: datetime, zone: str) -> date:
    """The local calendar date of ``now`` in ``zone``."""
    return now.astimezone(get_zone(zone)).date()


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything the span computation needs, prepared once per ``window_open`` call."""

    policy: Policy
    week: tuple[tuple[tuple[int, int], ...], ...]
    plain: tuple[AgreedWindow, ...]
    zoned: tuple[AgreedWindow, ...]


def _day_spans(zone: str, day: date, plan: _Plan,
               agreed: Sequence[AgreedWindow]) -> tuple[list[Span], list[Span]]:
    ordinal = day.toordinal()
    policy_spans = [(local_edge_to_utc(zone, ordinal, s, True), local_edge_to_utc(zone, ordinal, e, False))
                    for s, e in plan.week[day.weekday()]]
    agreed_spans: list[Span] = []
    day_name = DAY_NAMES[day.weekday()]
    for agreement in agreed:
        if day_name not in agreement.days:
            continue
        for iv in agreement.intervals:
            start = local_edge_to_utc(zone, ordinal, iv.start, True)
            end = local_edge_to_utc(zone, ordinal, iv.end, False)
            if agreement.expires_at is not None:
                end = min(end, agreement.expires_at)
            agreed_spans.append((start, end))
    return policy_spans, agreed_spans


def _dates(now: datetime, horizon: timedelta, zone: str) -> range:
    first = local_date(now, zone) - timedelta(days=1)
    last = local_date(now + horizon, zone) + timedelta(days=1)
    return range(first.toordinal(), last.toordinal() + 1)


def _zone_spans(zone: str, now: datetime, horizon: timedelta, plan: _Plan) -> tuple[Span, ...]:
    spans: list[Span] = []
    for ordinal in _dates(now, horizon, zone):
        day = date.fromordinal(ordinal)
        if day in plan.policy.holidays:
            continue
        policy_spans, agreed_spans = _day_spans(zone, day, plan, plan.plain)
        spans.extend(policy_spans)
        spans.extend(agreed_spans)
    return normalize(spans)


def _allowed_spans(now: datetime, horizon: timedelta, zones: Sequence[str],
                   plan: _Plan) -> tuple[tuple[Span, ...], dict[str, tuple[Span, ...]]]:
    per_zone: dict[str, tuple[Span, ...]] = {}
    common: tuple[Span, ...] | None = None
    for zone in zones:
        spans = _zone_spans(zone, now, horizon, plan)
        per_zone[zone] = spans
        common = spans if common is None else intersect(common, spans)
    extra: list[Span] = []
    for agreement in plan.zoned:
        zone = agreement.zone or "UTC"
        for ordinal in _dates(now, horizon, zone):
            day = date.fromordinal(ordinal)
            if day not in plan.policy.holidays:
                extra.extend(_day_spans(zone, day, plan, [agreement])[1])
    return normalize([*(common or ()), *extra]), per_zone


def _contains(spans: Sequence[Span], instant: datetime) -> bool:
    return any(start <= instant < end for start, end in spans)


def _plan(now: datetime, policy: Policy, agreed: Sequence[AgreedWindow]) -> _Plan:
    active = [a for a in agreed
              if policy.allow_agreed_windows and (a.expires_at is None or now < a.expires_at)]
    return _Plan(policy=policy, week=tuple(policy.windows.minutes(i) for i in range(7)),
                 plain=tuple(a for a in active if a.zone is None),
                 zoned=tuple(a for a in active if a.zone is not None))


def is_open(now_utc: datetime, zones: Sequence[str], policy: Policy,
            agreed: Sequence[AgreedWindow] = ()) -> bool:
    """Cheap yes/no form of ``window_open(...).open`` (no search for the next window, no details)."""
    now = _aware(now_utc)
    zones = tuple(dict.fromkeys(zones))
    if not zones:
        return False
    spans, _ = _allowed_spans(now, timedelta(0), zones, _plan(now, policy, agreed))
    return _contains(spans, now)


def window_open(now_utc: datetime, zones: Sequence[str], policy: Policy,
                agreed: Sequence[AgreedWindow] = ()) -> WindowResult:
    """Check the calling window in every zone; ``agreed`` must already be filtered to this scope."""
    now = _aware(now_utc)
    zones = tuple(dict.fromkeys(zones))
    if not zones:
        return WindowResult(open=False, next_allowed_at=None)
    plan = _plan(now, policy, agreed)
    next_at: datetime | None = None
    per_zone: dict[str, tuple[Span, ...]] = {}
    never = not any(plan.week) and not plan.plain and not plan.zoned
    for days in () if never else _HORIZONS_DAYS:
        horizon = timedelta(days=days)
        spans, found_per_zone = _allowed_spans(now, horizon, zones, plan)
        if not per_zone:
            per_zone = found_per_zone
        candidate = next((s for s in spans if s[1] > now), None)
        if candidate is not None and candidate[0] < now + horizon:
            next_at = max(candidate[0], now)
            break
    now_open = next_at == now
    by_agreement = False
    if now_open and (plan.plain or plan.zoned):
        by_agreement = not is_open(now, zones, policy)
    details = [_zone_detail(now, zone, plan, per_zone.get(zone, ())) for zone in zones]
    return WindowResult(open=now_open, zones=details, next_allowed_at=next_at, by_agreement=by_agreement)


def _zone_detail(now: datetime, zone: str, plan: _Plan, spans: Sequence[Span]) -> ZoneWindow:
    local = now.astimezone(get_zone(zone))
    day = local.date()
    weekday = DAY_NAMES[day.weekday()]
    agreed_today = [str(iv) for a in plan.plain if weekday in a.days for iv in a.intervals]
    return ZoneWindow(
        zone=zone,
        local_time=local.isoformat(timespec="minutes"),
        local_weekday=weekday,
        holiday=day in plan.policy.holidays,
        allowed_today=[f"{format_hhmm(s)}-{format_hhmm(e)}" for s, e in plan.week[day.weekday()]],
        agreed_today=agreed_today,
        inside=_contains(spans, now),
    )
