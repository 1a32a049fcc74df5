"""Property-based tests: windows are sound, next_allowed_at is exact, merging never loosens."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from compliance.decision import Block, DialContext, OverrideRequest
from compliance.gate import evaluate, resolve_context_zones
from compliance.ledger import LedgerCounts
from compliance.policy import DAY_NAMES, Interval, Policy, WeeklyWindows, merge_strictest
from compliance.rules import do_not_call, frequency, holds, third_party, unknown_timezone
from compliance.timezones import get_zone
from compliance.windows import is_open, window_open

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Boise",
    "Asia/Shanghai",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Honolulu",
    "Asia/Urumqi",
    "America/St_Johns",
    "Africa/Casablanca",
]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)


def _transitions(zone: str) -> list[datetime]:
    """UTC hours in 2026 at which ``zone``'s offset changes (DST and other shifts)."""
    tz = get_zone(zone)
    found = []
    hour = datetime(2026, 1, 1, tzinfo=UTC)
    previous = hour.astimezone(tz).utcoffset()
    while hour.year == 2026:
        hour += timedelta(hours=1)
        offset = hour.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(hour)
            previous = offset
    return found


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}


@st.composite
def zones_and_instant(draw: st.DrawFn) -> tuple[list[str], datetime]:
    """Candidate zones and an instant, half of the time within 36 h of a DST transition of one zone."""
    zones = draw(zone_sets)
    near = [t for z in zones for t in TRANSITIONS[z]]
    if draw(st.booleans()) and near:
        base = draw(st.sampled_from(near))
        spread = draw(st.sampled_from([90, 6 * 60, 36 * 60]))
        return zones, base + timedelta(
            minutes=draw(st.integers(-spread, spread)), seconds=draw(st.integers(0, 59))
        )
    return zones, draw(instants)


#: Local times at which clocks change somewhere (00:00 Santiago, 01:00 London, 02:00 New York,
#: 02:45 Chatham, 03:00 Casablanca); edges are drawn near them half of the time.
DST_EDGES = st.integers(0, 16).map(lambda q: q * 15)


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    if draw(st.booleans()):
        start = draw(DST_EDGES)
        end = draw(st.one_of(DST_EDGES, st.integers(0, 96).map(lambda q: q * 15)).filter(lambda e: e > start))
        return Interval(start=start, end=end)
    start = draw(st.integers(0, 95)) * 15
    end = draw(st.integers(start // 15 + 1, 96)) * 15
    return Interval(start=start, end=end)


@st.composite
def weekly(draw: st.DrawFn) -> WeeklyWindows:
    return WeeklyWindows(**{day: tuple(draw(st.lists(intervals(), max_size=2))) for day in DAY_NAMES})


@st.composite
def policies(draw: st.DrawFn, near: datetime | None = None) -> Policy:
    base = (near or datetime(2026, 6, 10, tzinfo=UTC)).date()
    holidays = draw(st.frozensets(st.integers(-2, 3).map(lambda d: base + timedelta(days=d)), max_size=2))
    cap = st.none() | st.integers(0, 8)
    return Policy(
        id=draw(st.sampled_from(["a", "b", "c"])),
        name="p",
        windows=draw(weekly()),
        holidays=holidays,
        allow_agreed_windows=draw(st.booleans()),
        max_unanswered_per_number_per_day=draw(cap),
        max_connected_per_debtor_per_day=draw(cap),
        max_attempts_per_debtor_rolling_7d=draw(cap),
        quiet_days_after_conversation=draw(st.none() | st.integers(0, 8)),
        min_gap_unanswered_same_number=draw(
            st.none() | st.integers(0, 30).map(lambda m: timedelta(minutes=m))
        ),
        holds={
            r: draw(st.sampled_from(["block", "allow", "supervisor_override"]))
            for r in ("hardship", "illness", "pregnancy")
        },
        third_party_allowed=draw(st.booleans()),
        third_party_min_failed_own_attempts=draw(st.integers(0, 4)),
        third_party_max_calls_per_number=draw(st.integers(0, 2)),
        do_not_call_prefixes=draw(st.frozensets(st.sampled_from(["+1208", "+8613", "+44"]), max_size=1)),
        unknown_timezone=draw(st.sampled_from(["block", "country_zones"])),
        allow_supervisor_override=draw(st.booleans()),
    )


def wall_clock_allowed(instant: datetime, zone: str, policy: Policy) -> bool:
    """Independent oracle: the local wall-clock reading is inside a policy interval on a non-holiday."""
    local = instant.astimezone(get_zone(zone))
    if local.date() in policy.holidays:
        return False
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    return any(s <= minute < e for s, e in policy.windows.minutes(local.weekday()))


@SETTINGS
@given(case=zones_and_instant(), data=st.data())
def test_an_open_window_holds_in_every_candidate_zone(
    case: tuple[list[str], datetime], data: st.DataObject
) -> None:
    zones, now = case
    policy = data.draw(policies(near=now))
    result = window_open(now, zones, policy)
    if result.open:
        assert result.next_allowed_at == now
        for zone in zones:
            assert wall_clock_allowed(now, zone, policy), zone


@SETTINGS
@given(case=zones_and_instant(), data=st.data())
def test_next_allowed_at_is_allowed_and_nothing_earlier_is(
    case: tuple[list[str], datetime], data: st.DataObject
) -> None:
    zones, now = case
    policy = data.draw(policies(near=now))
    result = window_open(now, zones, policy)
    nxt = result.next_allowed_at
    limit = now + timedelta(days=2)
    if nxt is not None:
        assert nxt >= now
        reopened = window_open(nxt, zones, policy)
        assert reopened.open
        for zone in zones:
            assert wall_clock_allowed(nxt, zone, policy)
        limit = min(limit, nxt)
    assert is_open(now, zones, policy) == result.open
    instant = now
    while instant < limit:
        if instant != now or not result.open:
            assert not is_open(instant, zones, policy), instant
        instant += timedelta(minutes=1)


@SETTINGS
@given(case=zones_and_instant(), data=st.data())
def test_merged_window_is_never_wider(case: tuple[list[str], datetime], data: st.DataObject) -> None:
    zones, now = case
    a, b = data.draw(policies(near=now)), data.draw(policies(near=now))
    merged = merge_strictest([a, b])
    for step in range(0, 24 * 60, 37):
        instant = now + timedelta(minutes=step)
        if is_open(instant, zones, merged):
            assert is_open(instant, zones, a)
            assert is_open(instant, zones, b)


@st.composite
def contexts(draw: st.DrawFn) -> DialContext:
    role = draw(st.sampled_from(["supervisor", "agent"]))
    override = draw(
        st.none() | st.just(OverrideRequest(role=role, reason=draw(st.sampled_from(["", "asked"]))))
    )
    return DialContext(
        number=draw(st.sampled_from(["+12085551234", "+8613800138000", "+15555555555", "+442071234567"])),
        number_kind=draw(st.sampled_from(["own", "third_party"])),
        third_party_objected=draw(st.booleans()),
        case_id="case-1",
        holds=tuple(
            draw(st.lists(st.sampled_from(["hardship", "illness", "pregnancy", "dispute"]), max_size=2))
        ),
        address_zone=draw(st.none() | st.sampled_from(ZONES)),
        override=override,
    )


@st.composite
def ledgers(draw: st.DrawFn, now: datetime) -> LedgerCounts:
    ago = st.integers(0, 10 * 24 * 60).map(lambda m: now - timedelta(minutes=m))
    return LedgerCounts(
        unanswered_to_number_today=draw(st.integers(0, 8)),
        last_unanswered_to_number_at=draw(st.none() | ago),
        connected_with_debtor_today=draw(st.integers(0, 4)),
        debtor_attempts_7d=tuple(draw(st.lists(ago, max_size=9))),
        last_conversation_at=draw(st.none() | ago),
        consecutive_failed_own_attempts=draw(st.integers(0, 5)),
        third_party_calls_to_number=draw(st.integers(0, 2)),
    )


NUMBERS = ["+12085551234", "+8613800138000", "+15555555555", "+442071234567"]
#: Every prefix matches one of NUMBERS, so a do-not-call prefix drawn here blocks some dials.
PREFIXES = ["+1208", "+8613", "+44", "+1555"]


def _sometimes(draw: st.DrawFn, strict: st.SearchStrategy[Any], lenient: Any) -> Any:
    """A strict value about one time in six, else ``lenient``: each rule bites, yet dials get through."""
    return draw(strict) if draw(st.integers(0, 5)) == 0 else lenient


@st.composite
def lenient_policies(draw: st.DrawFn, near: datetime) -> Policy:
    """Policies that allow most dials, each strictness component tightened independently now and then."""
    base = near.date()
    return Policy(
        id=draw(st.sampled_from(["a", "b", "c"])),
        name="p",
        windows=_sometimes(draw, weekly(), WeeklyWindows.every_day(Interval(start=0, end=1440))),
        holidays=_sometimes(draw, st.frozensets(
            st.integers(-1, 1).map(lambda d: base + timedelta(days=d)), min_size=1, max_size=2), frozenset()),
        allow_agreed_windows=draw(st.booleans()),
        max_unanswered_per_number_per_day=_sometimes(draw, st.integers(0, 3), None),
        max_connected_per_debtor_per_day=_sometimes(draw, st.integers(0, 2), None),
        max_attempts_per_debtor_rolling_7d=_sometimes(draw, st.integers(0, 4), None),
        quiet_days_after_conversation=_sometimes(draw, st.integers(1, 8), None),
        min_gap_unanswered_same_number=_sometimes(
            draw, st.integers(1, 24 * 60).map(lambda m: timedelta(minutes=m)), None),
        holds={r: _sometimes(draw, st.sampled_from(["block", "supervisor_override"]), "allow")
               for r in ("hardship", "illness", "pregnancy")},
        third_party_allowed=_sometimes(draw, st.just(False), True),
        third_party_min_failed_own_attempts=_sometimes(draw, st.integers(1, 4), 0),
        third_party_max_calls_per_number=_sometimes(draw, st.integers(0, 1), 5),
        do_not_call_numbers=_sometimes(draw, st.frozensets(st.sampled_from(NUMBERS), min_size=1, max_size=1),
                                       frozenset()),
        do_not_call_prefixes=_sometimes(draw, st.frozensets(st.sampled_from(PREFIXES), min_size=1, max_size=2),
                                        frozenset()),
        unknown_timezone=_sometimes(draw, st.just("block"), "country_zones"),
        allow_supervisor_override=draw(st.booleans()),
    )


@st.composite
def lenient_contexts(draw: st.DrawFn) -> DialContext:
    """Dials that are mostly clean: own numbers, no holds, a known address zone, rarely an override."""
    override = _sometimes(draw, st.just(OverrideRequest(role="supervisor", reason="asked")), None)
    return DialContext(
        number=draw(st.sampled_from(NUMBERS)),
        number_kind=_sometimes(draw, st.just("third_party"), "own"),
        third_party_objected=_sometimes(draw, st.booleans(), False),
        case_id="case-1",
        holds=_sometimes(draw, st.lists(st.sampled_from(["hardship", "illness", "pregnancy", "dispute"]),
                                        min_size=1, max_size=2).map(tuple), ()),
        address_zone=_sometimes(draw, st.none(), draw(st.sampled_from(ZONES))),
        override=override,
    )


@st.composite
def quiet_ledgers(draw: st.DrawFn, now: datetime) -> LedgerCounts:
    """Ledgers that are mostly empty, with some history now and then."""
    return _sometimes(draw, ledgers(now), LedgerCounts(consecutive_failed_own_attempts=draw(st.integers(0, 5))))


def _rule_ids(blocks: list[Block]) -> set[str]:
    return {b.rule_id for b in blocks}


def _check_merge(now: datetime, data: st.DataObject) -> bool:
    """Assert that merging two drawn policies never loosens any component; whether the merged one allowed."""
    a, b = data.draw(lenient_policies(now)), data.draw(lenient_policies(now))
    ctx, ledger = data.draw(lenient_contexts()), data.draw(quiet_ledgers(now))
    merged = merge_strictest([a, b])
    decision = evaluate(ctx, merged, ledger, now)
    if decision.allowed:
        assert evaluate(ctx, a, ledger, now).allowed
        assert evaluate(ctx, b, ledger, now).allowed
    # each component on its own: whatever blocks under an input blocks under the merge, too
    m_res = resolve_context_zones(ctx, merged)
    for p in (a, b):
        res = resolve_context_zones(ctx, p)
        assert _rule_ids(holds(ctx, p)) <= _rule_ids(holds(ctx, merged)), "holds"
        assert _rule_ids(do_not_call(ctx, p)) <= _rule_ids(do_not_call(ctx, merged)), "do-not-call"
        assert _rule_ids(third_party(ctx, p, ledger)) <= _rule_ids(third_party(ctx, merged, ledger)), "third"
        assert _rule_ids(unknown_timezone(ctx, res, p)) <= _rule_ids(unknown_timezone(ctx, m_res, merged))
        if res.zone_names() == m_res.zone_names() and not res.unknown:
            zones = res.zone_names()
            assert _rule_ids(frequency(ctx, p, ledger, now, zones)) <= _rule_ids(
                frequency(ctx, merged, ledger, now, zones)), "frequency"
            if not window_open(now, zones, p).open:
                assert not window_open(now, zones, merged).open, "window"
        if p.allow_supervisor_override is False:
            assert merged.allow_supervisor_override is False
    assert merged.third_party_allowed == (a.third_party_allowed and b.third_party_allowed)
    assert merged.do_not_call_prefixes == a.do_not_call_prefixes | b.do_not_call_prefixes
    assert merged.do_not_call_numbers == a.do_not_call_numbers | b.do_not_call_numbers
    assert set(merged.holidays) == set(a.holidays) | set(b.holidays)
    for field in (
        "max_unanswered_per_number_per_day",
        "max_connected_per_debtor_per_day",
        "max_attempts_per_debtor_rolling_7d",
    ):
        values = [getattr(p, field) for p in (a, b) if getattr(p, field) is not None]
        assert getattr(merged, field) == (min(values) if values else None)
    return decision.allowed


# no shrinking: a counterexample is reported in seconds, while shrinking these nested draws took many minutes
@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(now=instants, data=st.data())
def test_merged_policy_never_allows_what_an_input_blocks(now: datetime, data: st.DataObject) -> None:
    _check_merge(now, data)


def test_the_merge_property_reaches_its_claim() -> None:
    """The generators are lenient enough that the merged policy allows a fair share of the dials."""
    allowed: list[bool] = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(now=instants, data=st.data())
    def run(now: datetime, data: st.DataObject) -> None:
        allowed.append(_check_merge(now, data))

    run()
    assert len(allowed) >= 150
    assert sum(allowed) / len(allowed) >= 0.25, f"{sum(allowed)} of {len(allowed)} allowed"


def test_property_oracle_agrees_with_a_known_case() -> None:
    policy = Policy(id="x", name="x", holidays=frozenset({date(2026, 6, 11)}))
    assert wall_clock_allowed(datetime(2026, 6, 10, 4, tzinfo=UTC), "Asia/Shanghai", policy)
    assert not wall_clock_allowed(datetime(2026, 6, 10, 14, tzinfo=UTC), "Asia/Shanghai", policy)
    assert not wall_clock_allowed(datetime(2026, 6, 11, 4, tzinfo=UTC), "Asia/Shanghai", policy)
