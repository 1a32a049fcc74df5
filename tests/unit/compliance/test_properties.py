"""Property-based tests: windows are sound, next_allowed_at is exact, merging never loosens."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.decision import DialContext, OverrideRequest
from compliance.gate import evaluate
from compliance.ledger import LedgerCounts
from compliance.policy import DAY_NAMES, Interval, Policy, WeeklyWindows, merge_strictest
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


@settings(max_examples=120, deadline=None)
@given(now=instants, data=st.data())
def test_merged_policy_never_allows_what_an_input_blocks(now: datetime, data: st.DataObject) -> None:
    a, b = data.draw(policies(near=now)), data.draw(policies(near=now))
    ctx, ledger = data.draw(contexts()), data.draw(ledgers(now))
    merged = merge_strictest([a, b])
    decision = evaluate(ctx, merged, ledger, now)
    if decision.allowed:
        assert evaluate(ctx, a, ledger, now).allowed
        assert evaluate(ctx, b, ledger, now).allowed
    assert set(merged.holidays) >= set(a.holidays) | set(b.holidays)
    for field in (
        "max_unanswered_per_number_per_day",
        "max_connected_per_debtor_per_day",
        "max_attempts_per_debtor_rolling_7d",
    ):
        values = [getattr(p, field) for p in (a, b) if getattr(p, field) is not None]
        assert getattr(merged, field) == (min(values) if values else None)


def test_property_oracle_agrees_with_a_known_case() -> None:
    policy = Policy(id="x", name="x", holidays=frozenset({date(2026, 6, 11)}))
    assert wall_clock_allowed(datetime(2026, 6, 10, 4, tzinfo=UTC), "Asia/Shanghai", policy)
    assert not wall_clock_allowed(datetime(2026, 6, 10, 14, tzinfo=UTC), "Asia/Shanghai", policy)
    assert not wall_clock_allowed(datetime(2026, 6, 11, 4, tzinfo=UTC), "Asia/Shanghai", policy)
